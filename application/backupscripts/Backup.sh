#!/bin/sh
# Take this machine's temporal backup for its role (cron and the build machine's PerformWebsiteBackup.sh call it).
# Usage: Backup.sh <HOURLY|DAILY|WEEKLY|MONTHLY|BIMONTHLY|MANUAL|SHUTDOWN>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt backup run "$@"
