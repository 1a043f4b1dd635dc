#!/bin/sh
# Delete a key of the configuration datastore (a '*' matches as s3cmd's wildcards); prints s3cmd's lines.
# Usage: DeleteFromConfigDatastore.sh <key> [yes|no]            (yes: every key with that prefix)
#        DeleteFromConfigDatastore.sh <key> <yes|no> <yes|no>   (2026 form: the third word is the recursive one)
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt config delete "$@"
