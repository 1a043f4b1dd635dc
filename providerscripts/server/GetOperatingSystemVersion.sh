#!/bin/sh
# Print the cloud host's name of the bare system (debian 13 on digitalocean: debian-13-x64).
# Usage: GetOperatingSystemVersion.sh [<cloudhost> <buildos> <buildos_version>]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt cloud os-image "$@"
