#!/bin/sh
# Change how many webservers the active build's autoscalers keep (asks, or takes the counts; adt scale adjust --help).
# Usage: AdjustScaling.sh [--autoscaler N COUNT | COUNT... | --total N] [--yes]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt scale adjust "$@"
