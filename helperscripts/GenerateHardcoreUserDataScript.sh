#!/bin/sh
# Write userdatascripts/<name>: the user data that makes a fresh cloud machine a build machine running the whole
# build of an override template unattended (the hardcore method).
# Usage: GenerateHardcoreUserDataScript.sh [stack]   (see 'adt hardcore --help' for options)
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt hardcore "$@"
