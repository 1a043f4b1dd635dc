#!/bin/sh
# Start, stop or describe a test SeaweedFS S3 server on loopback (for bats and benchmarks).
# Usage: tests/services/s3.sh start|stop|env [DIR]   (DIR defaults to ${TMPDIR:-/tmp}/adt-test-s3)
here=$(cd "$(dirname "$0")" && pwd)
exec "${ADT_PYTHON:-$here/../../.venv/bin/python}" -m adt.datastore.seaweed "$1" "${2:-${TMPDIR:-/tmp}/adt-test-s3}"
