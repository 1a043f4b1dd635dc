#!/bin/sh
# Apply this machine's firewall policy if it changed or the firewall was disabled.
# Usage: SetupFirewall.sh
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt firewall reconcile "$@"
