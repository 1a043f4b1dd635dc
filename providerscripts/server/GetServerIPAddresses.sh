#!/bin/sh
# Print the public addresses of the build's machines whose name contains <pattern>, one a line.
# Usage: GetServerIPAddresses.sh <pattern> [cloudhost]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt cloud ips "$@"
