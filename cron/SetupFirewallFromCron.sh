#!/bin/sh
# Reconcile this machine's firewall (cron, every minute; one at a time, lock stale after 20 minutes).
# Usage: SetupFirewallFromCron.sh
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt firewall reconcile "$@"
