#!/bin/sh
# Print 'running' when the machines whose name contains <pattern> all run, else 'not running'.
# Usage: IsInstanceRunning.sh <pattern> [cloudhost]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt cloud running "$@"
