#!/bin/sh
# Remove a webserver's address from the round robin of WEBSITEURL, once the fleet is installed.
# Usage: RemoveIPFromDNS.sh <ip>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt dns delete --if-installed --ip "$1"
