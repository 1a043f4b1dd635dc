#!/bin/sh
# The original's scaling cron line (every 2 minutes on an autoscaler): adt's autoscaler cycle runs as a service
# every few seconds; this line starts it when it is not running (production fleets only).
# Usage: PerformScalingFromCron.sh
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt autoscaler ensure "$@"
