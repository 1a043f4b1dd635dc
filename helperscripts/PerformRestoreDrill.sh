#!/bin/sh
# Prove the active build's latest temporal backups restore: a throwaway fleet on local, checked, destroyed.
# Usage: PerformRestoreDrill.sh [--period HOURLY|DAILY|WEEKLY|MONTHLY|BIMONTHLY] [-c CLOUDHOST -b BUILD_IDENTIFIER] [--json] [--keep]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt drill "$@"
