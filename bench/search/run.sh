#!/usr/bin/env bash
# bench/search: 100,000 points indexed through the HTTP API (built-in lexical
# embedder), then wrk on loopback (32 connections, 20 s) against vector queries
# and against text queries; req/s, p50/p99, errors, and recall@10 of the
# vector queries against exact search through the same API.
#   bench/search/run.sh [BUILD_DIR] [--points N] [--seconds S] [--connections C] [--warmup S]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$root/build"
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then build="$1"; shift; fi
[ -x "$build/heimdex" ] || { echo "build first (make build)" >&2; exit 1; }
command -v wrk > /dev/null || "$root/scripts/install-deps.sh" bench
exec /usr/bin/python3 "$root/bench/search/search_bench.py" --binary "$build/heimdex" "$@"
