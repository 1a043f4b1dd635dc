#!/bin/sh
# Destroy the build's machine with the address <ip> (exit 1 naming it when there is none).
# Usage: DestroyServer.sh <ip> [cloudhost] [private_ip]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt cloud destroy "$@"
