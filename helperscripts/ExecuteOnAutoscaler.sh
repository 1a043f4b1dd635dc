#!/bin/sh
# Run a command on the active build's autoscaler; its output and exit status pass through.
# Usage: ExecuteOnAutoscaler.sh "<command>" [--machine N|IP|NAME]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt fleet exec --role autoscaler "$@"
