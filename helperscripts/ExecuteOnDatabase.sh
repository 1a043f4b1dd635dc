#!/bin/sh
# Run a command on the active build's database; its output and exit status pass through.
# Usage: ExecuteOnDatabase.sh "<command>"
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt fleet exec --role database "$@"
