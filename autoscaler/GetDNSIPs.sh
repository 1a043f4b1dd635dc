#!/bin/sh
# Print the addresses of the round robin of WEBSITEURL on one line (live webservers).
# Usage: GetDNSIPs.sh
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt dns ips --if-installed --one-line
