#!/bin/sh
# Print the addresses of the A records of <websiteurl>, one a line.
# Usage: GetIPAddresses.sh <zoneid> <websiteurl> <email> <credentials> <dns>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt dns ips "$@"
