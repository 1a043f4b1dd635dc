#!/bin/sh
# Shut down and destroy the active build's machines, after asking.
# Usage: ShutdownInfrastructure.sh
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt fleet shutdown "$@"
