#!/bin/sh
# Print 1 if a key with that prefix is in the configuration datastore, else 0.
# Usage: CheckConfigDatastore.sh <key>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt config check "$@"
