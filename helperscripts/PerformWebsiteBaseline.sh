#!/bin/sh
# Have the webserver of the active build publish its webroot as a baseline (behind the secrets gate).
# Usage: PerformWebsiteBaseline.sh [--identifier ID] [--ip IP] [--waive ID]... [--replace]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt baseline perform --role webserver "$@"
