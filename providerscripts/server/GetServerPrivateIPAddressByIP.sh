#!/bin/sh
# Print the private address of the machine with the (public) address <ip>.
# Usage: GetServerPrivateIPAddressByIP.sh <ip> [cloudhost]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt cloud private-ip "$@"
