#!/bin/sh
# Print the id of a zone of the DNS provider (empty and exit 1 when it has none).
# Usage: GetZoneID.sh <zonename> <email> <credentials> <dns>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt dns zone "$@"
