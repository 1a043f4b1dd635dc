#!/bin/sh
# Cron's temporal backup of this machine's role: a random 1-60 s pause, the fleet's lock, Backup.sh's work.
# Usage: BackupFromCron.sh <HOURLY|DAILY|WEEKLY|MONTHLY|BIMONTHLY>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt backup run --from-cron "$@"
