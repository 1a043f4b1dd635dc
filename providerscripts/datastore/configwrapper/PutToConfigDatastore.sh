#!/bin/sh
# Store a file, or a zero-byte key named by the value, in the configuration datastore.
# Usage: PutToConfigDatastore.sh <file_or_name> [place] [yes]   (yes: remove the local file afterwards)
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt config put "$@"
