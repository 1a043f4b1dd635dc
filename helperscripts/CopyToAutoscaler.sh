#!/bin/sh
# Copy a local file to the active build's autoscaler (asked for when absent).
# Usage: CopyToAutoscaler.sh [local_file] [--machine N|IP|NAME]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt fleet copy-to --role autoscaler "$@"
