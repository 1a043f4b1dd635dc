#!/bin/sh
# Verify this machine's temporal backup of a periodicity: the object read once, whole and untampered.
# Usage: VerifyBackupPresent.sh <HOURLY|DAILY|WEEKLY|MONTHLY|BIMONTHLY|MANUAL|SHUTDOWN>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt backup verify "$@"
