#!/bin/sh
# Renew the build's TLS certificate when it is due (or issue it when there is none) and publish it; the build
# machine's cron runs it. Usage: InitialiseNewSSLCertificate.sh [url|none|FILLER] [yes] [build_id] [cloudhost]
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt ssl initialise "$@"
