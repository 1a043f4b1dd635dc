#!/bin/sh
# Copy a file from the active build's database (asked for when absent).
# Usage: CopyFromDatabase.sh [remote_file]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt fleet copy-from --role database "$@"
