#!/bin/sh
# Build a fleet. No arguments: asks for each choice. Otherwise all four:
# Usage: ExpeditedAgileDeploymentToolkit.sh <cloudhost> <buildos> <template 1-3> <build_identifier>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt build "$@"
