#!/bin/sh
# Minimal scanner entrypoint: start clamd from the image's config when definitions are present,
# then hand over to the Lambda runtime. Downloading the definitions named by the manifest and
# waiting for clamd to load them belong to issue #6; until then, without definitions, the
# handler cannot reach clamd and the workflow records ERROR (fails closed).
set -eu
mkdir -p /tmp/clamd "${CLAMAV_DATABASE_DIR:-/tmp/clamav/db}"
if ls "${CLAMAV_DATABASE_DIR:-/tmp/clamav/db}"/*.c[lv]d >/dev/null 2>&1; then
  clamd --config-file=/opt/manabiplus/clamd.conf &
fi
exec /lambda-entrypoint.sh "$@"
