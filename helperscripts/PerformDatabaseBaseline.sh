#!/bin/sh
# Have the database machine of the active build publish its database as a baseline (behind the secrets gate).
# Usage: PerformDatabaseBaseline.sh [--identifier ID] [--ip IP] [--redact] [--waive ID]...
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt baseline perform --role database "$@"
