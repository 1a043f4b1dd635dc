#!/bin/sh
# Publish this webserver's webroot as <identifier>-webroot-sourcecode-baseline (asks for the identifier when not given).
# Usage: CreateWebrootBaseline.sh [identifier] [--waive ID]...
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt baseline website "$@"
