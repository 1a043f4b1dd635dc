#!/bin/sh
# On an autoscaler: scale the fleet to <total> webservers by hand (the same as ScalingUpdateEvent.sh).
# Usage: ManuallyScale.sh <total>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt --role autoscaler scale update-event "$@"
