#!/bin/sh
# Print the base names of the keys that start with <key> (cut at its first '*'), one a line.
# Usage: ListFromConfigDatastore.sh <key> [recursive] [fullpath]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt config list "$@"
