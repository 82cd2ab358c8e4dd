#!/usr/bin/env bash
# `make run`: start heimdex serve on 127.0.0.1:8000 with its data in ./data,
# after printing a dev token and a curl line to try. The dev secret is kept in
# ./data/dev-secret so tokens stay valid across restarts.
set -euo pipefail
bin="${1:-build/heimdex}"
mkdir -p data
if [ -z "${DEV_JWT_SECRET:-}" ]; then
  [ -s data/dev-secret ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > data/dev-secret
  DEV_JWT_SECRET="$(cat data/dev-secret)"
fi
export DEV_JWT_SECRET HEIMDEX_ENV="${HEIMDEX_ENV:-local}"
export HEIMDEX_LISTEN="${HEIMDEX_LISTEN:-127.0.0.1:8000}" HEIMDEX_DATA_DIR="${HEIMDEX_DATA_DIR:-./data}"
org="550e8400-e29b-41d4-a716-446655440000"
token="$("$bin" token --org "$org" --user dev-user)"
cat <<EOT

heimdex is starting on http://$HEIMDEX_LISTEN (data in $HEIMDEX_DATA_DIR)

dev token (org $org, 60 minutes):
  export TOKEN=$token

try:
  curl -s -X POST http://$HEIMDEX_LISTEN/vectors/mock -H "Authorization: Bearer \$TOKEN" \\
       -H 'Content-Type: application/json' -d '{"asset_id":"doc-1","segment_id":"chunk-0"}'
  curl -s http://$HEIMDEX_LISTEN/jobs/<job_id> -H "Authorization: Bearer \$TOKEN"

Ctrl-C stops it.
EOT
exec "$bin" serve
