#!/bin/sh
# Copy a local file to the active build's database (asked for when absent).
# Usage: CopyToDatabase.sh [local_file]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt fleet copy-to --role database "$@"
