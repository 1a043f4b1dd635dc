#!/bin/sh
# Apply the authorised addresses to the build machine's own firewall (cron, every minute).
# Usage: AdjustBuildMachineFirewall.sh --ssh-port <port> --build-machine-ip <ip> [--laptop-ip <ip>]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt firewall adjust-build-machine "$@"
