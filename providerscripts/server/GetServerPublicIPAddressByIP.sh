#!/bin/sh
# Print the public address of the machine with the (private) address <ip>.
# Usage: GetServerPublicIPAddressByIP.sh <ip> [cloudhost]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt cloud public-ip "$@"
