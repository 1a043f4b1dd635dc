#!/bin/sh
# Print a variable of the active build's environment (runtimedata/<cloudhost>/<id>/build_environment).
# Usage: GetVariableValue.sh NAME
PATH="${PATH}:/usr/local/bin"
exec adt variable get --reveal "$@"
