#!/bin/sh
# Print the id of the A record <websiteurl> -> <ip> (nothing when there is none).
# Usage: GetRecordID.sh <zoneid> <websiteurl> <ip> <email> <credentials> <dns>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt dns records --ids "$@"
