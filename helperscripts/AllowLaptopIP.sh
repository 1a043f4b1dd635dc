#!/bin/sh
# Allow an address to reach the build machine's SSH (authorised-ips.dat, FIREWALL-EVENT).
# Usage: AllowLaptopIP.sh <address> --build-machine-ip <ip> [--remove]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt firewall allow-laptop-ip "$@"
