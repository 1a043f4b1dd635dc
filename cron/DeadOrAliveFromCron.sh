#!/bin/sh
# The original's dead-or-alive cron line (every 3 minutes on an autoscaler): the health probes are part of adt's
# autoscaler cycle, a service; this line starts it when it is not running (production fleets only).
# Usage: DeadOrAliveFromCron.sh
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt autoscaler ensure "$@"
