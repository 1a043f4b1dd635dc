#!/bin/sh
# Print the name of the machine with the public or private address <ip> (nothing when none).
# Usage: GetServerName.sh <ip> [cloudhost]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt cloud name "$@"
