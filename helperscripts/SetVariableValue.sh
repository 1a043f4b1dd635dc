#!/bin/sh
# Set a variable in the active build's environment.
# Usage: SetVariableValue.sh NAME=value
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt variable set "$@"
