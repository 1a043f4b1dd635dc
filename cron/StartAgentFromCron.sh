#!/bin/sh
# adt's own cron line (not the original's): start this machine's agent if it is not running (every minute).
# Usage: StartAgentFromCron.sh
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt agent start --quiet "$@"
