#!/bin/sh
# Check a template: every problem at once; exit 0 when valid, 1 when not.
# Usage: ValidateTemplate.sh [templatefile]   (default: runtimedata/current_template_name)
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt template validate "$@"
