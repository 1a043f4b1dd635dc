#!/bin/sh
# Print the application database's name, password or username (settings file first, then the datastore).
# Usage: GetDBCredential.sh [key] <1|2|3|name|password|username>
PATH="${PATH}:/opt/adt/bin:/usr/local/bin"
exec adt config credential "$@"
