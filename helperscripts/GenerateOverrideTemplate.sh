#!/bin/sh
# Write overridescripts/<cloudhost><N>override.tmpl, asking for each MANDATORY value.
# Usage: GenerateOverrideTemplate.sh [stack]   (see 'adt template override --help' for options)
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt template override "$@"
