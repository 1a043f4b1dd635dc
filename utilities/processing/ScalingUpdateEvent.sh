#!/bin/sh
# On an autoscaler: the fleet should keep <total> webservers, split over its autoscalers (adt scale update-event --help).
# Usage: ScalingUpdateEvent.sh <total>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt --role autoscaler scale update-event "$@"
