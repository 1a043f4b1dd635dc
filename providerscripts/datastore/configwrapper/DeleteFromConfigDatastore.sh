#!/bin/sh
# Delete a key of the configuration datastore; 'yes' deletes every key with that prefix.
# Usage: DeleteFromConfigDatastore.sh <key> [yes]
PATH="${PATH}:/usr/local/bin"
exec adt config delete "$@"
