#!/bin/sh
# Print the private address of the machine at <ip> (the build machine is in the VPC when there is one).
# Usage: CheckBuildMachineVPC.sh <cloudhost> <ip>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt cloud in-vpc "$@"
