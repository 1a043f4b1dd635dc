#!/bin/sh
# Add a webserver's address to the round robin of WEBSITEURL, once the fleet is installed.
# Usage: AddIPToDNS.sh <ip>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt dns add --if-installed --ip "$1"
