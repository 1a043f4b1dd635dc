#!/bin/sh
# Copy a file from the active build's webserver (asked for when absent).
# Usage: CopyFromWebserver.sh [remote_file]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt fleet copy-from --role webserver "$@"
