#!/bin/sh
# Open a shell on the active build's database (options: adt fleet connect --help).
# Usage: ConnectToDatabase.sh
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt fleet connect --role database "$@"
