#!/bin/sh
# Print the private addresses of the build's machines whose name contains <pattern>, one a line.
# Usage: GetServerPrivateIPAddresses.sh <pattern> [cloudhost]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt cloud ips --private "$@"
