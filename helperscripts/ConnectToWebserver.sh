#!/bin/sh
# Open a shell on the active build's webserver (options: adt fleet connect --help).
# Usage: ConnectToWebserver.sh
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt fleet connect --role webserver "$@"
