#!/bin/sh
# Open a shell on the active build's autoscaler (options: adt fleet connect --help).
# Usage: ConnectToAutoscaler.sh [--machine N|IP|NAME]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt fleet connect --role autoscaler "$@"
