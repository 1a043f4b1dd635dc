#!/bin/sh
# Copy a file from the active build's autoscaler (asked for when absent).
# Usage: CopyFromAutoscaler.sh [remote_file] [--machine N|IP|NAME]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt fleet copy-from --role autoscaler "$@"
