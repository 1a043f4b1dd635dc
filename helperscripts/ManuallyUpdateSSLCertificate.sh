#!/bin/sh
# Issue a new TLS certificate for the active build now and publish it to every webserver; with --fullchain FILE
# --privkey FILE, publish that pair (obtained elsewhere) instead, once checked.
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt ssl issue "$@"
