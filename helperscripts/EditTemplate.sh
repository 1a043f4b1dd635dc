#!/bin/sh
# Edit a template in $EDITOR (vi), then check it; asks for what is not given.
# Usage: EditTemplate.sh [<cloudhost> <template file name>]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt template edit "$@"
