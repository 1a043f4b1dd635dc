#!/bin/sh
# Forget the applied firewall and apply this machine's policy afresh.
# Usage: ResetFirewall.sh
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt firewall reset "$@"
