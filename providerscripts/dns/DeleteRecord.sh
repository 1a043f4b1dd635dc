#!/bin/sh
# Remove the A record <recordid> (one that is not there is not an error).
# Usage: DeleteRecord.sh <zoneid> <recordid> <email> <credentials> <dns> [websiteurl]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt dns delete "$@"
