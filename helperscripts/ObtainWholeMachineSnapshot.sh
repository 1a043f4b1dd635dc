#!/bin/sh
# Take a snapshot image of the first machine of each role of the active build and record the ids (snapshot_ids.dat).
# Usage: ObtainWholeMachineSnapshot.sh [--role autoscaler|webserver|database|authenticator|reverseproxy]... [--dry-run]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt snapshot take "$@"
