#!/bin/sh
# Have a webserver of the active build take a temporal backup now; asks for the periodicity when not given.
# Usage: PerformWebsiteBackup.sh [--period HOURLY|DAILY|WEEKLY|MONTHLY|BIMONTHLY|MANUAL|SHUTDOWN|ALL] [--ip IP]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt backup perform "$@"
