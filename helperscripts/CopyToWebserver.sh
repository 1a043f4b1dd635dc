#!/bin/sh
# Copy a local file to the active build's webserver (asked for when absent).
# Usage: CopyToWebserver.sh [local_file]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt fleet copy-to --role webserver "$@"
