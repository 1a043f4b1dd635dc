#!/bin/sh
# Download a key of the configuration datastore; prints "Key doesn't exist" when absent.
# Usage: GetFromConfigDatastore.sh <key> [destination_dir_or_file]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt config get "$@"
