#!/bin/sh
# Add an A record <websiteurl> -> <ip> (an address already there is left as it is).
# Usage: AddRecord.sh <zoneid> <email> <credentials> <websiteurl> <ip> [proxied] <dns>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt dns add "$@"
