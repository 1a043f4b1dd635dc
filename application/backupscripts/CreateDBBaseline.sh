#!/bin/sh
# Publish this database as <identifier>-db-baseline (asks for the identifier when not given).
# Usage: CreateDBBaseline.sh [identifier] [--redact] [--waive ID]...
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt baseline database "$@"
