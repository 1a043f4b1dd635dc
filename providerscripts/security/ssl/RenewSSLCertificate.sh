#!/bin/sh
# A webserver's certificate: install the pair the build machine published (ssl bucket, else the config bucket's
# ssl/<WEBSITEURL>/) when both files are new and belong together, keep the previous one, reload nginx gracefully.
# Exit 0 when installed or when there is nothing new; 1 when nothing is published or the pair is half new or broken.
# Usage: RenewSSLCertificate.sh
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt ssl install "$@"
