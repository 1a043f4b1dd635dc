#!/bin/sh
# Print how many of the build's machines have a name containing <pattern>.
# Usage: NumberOfServers.sh <pattern> [cloudhost]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt cloud count "$@"
