#!/bin/sh
# Print a variable of the active build's environment (runtimedata/<cloudhost>/<id>/build_environment).
# Usage: GetVariableValue.sh NAME
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt variable get --reveal "$@"
