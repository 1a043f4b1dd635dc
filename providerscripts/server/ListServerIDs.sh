#!/bin/sh
# Print the cloud host's ids of the machines whose name contains <pattern>, one a line.
# Usage: ListServerIDs.sh <pattern> [cloudhost]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt cloud ids "$@"
