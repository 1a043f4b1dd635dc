#!/bin/sh
# Create the build's machine <name> of size <size> (its role told by its name) and wait until it is ready.
# Usage: CreateServer.sh <size> <name>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt cloud create "$@"
