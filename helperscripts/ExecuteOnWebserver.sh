#!/bin/sh
# Run a command on the active build's webserver; its output and exit status pass through.
# Usage: ExecuteOnWebserver.sh "<command>"
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt fleet exec --role webserver "$@"
