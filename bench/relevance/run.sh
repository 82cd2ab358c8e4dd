#!/usr/bin/env bash
# bench/relevance: nDCG@10 and recall@10 of dense, sparse and hybrid search on
# Debian's package descriptions (query = a package's one-line summary, the one
# relevant document = its long description), indexed through the HTTP API.
#   bench/relevance/run.sh [BUILD_DIR] [--packages N]
# The long descriptions are Debian's Translation-en index, fetched once from
# the Debian archive with apt-get into ~/.cache/heimdex-bench (the system's
# apt lists are left alone).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$root/build"
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then build="$1"; shift; fi
[ -x "$build/heimdex" ] || { echo "build first (make build)" >&2; exit 1; }
cache="${XDG_CACHE_HOME:-$HOME/.cache}/heimdex-bench/apt"
if ! ls "$cache"/lists/*_main_i18n_Translation-en* > /dev/null 2>&1; then
  mkdir -p "$cache/lists/partial" "$cache/cache/archives/partial"
  apt-get update -qq -o APT::Sandbox::User=root -o Acquire::Languages=en -o Dir::State::Lists="$cache/lists" \
    -o Dir::Cache="$cache/cache" -o APT::Get::List-Cleanup=false > /dev/null
fi
exec /usr/bin/python3 "$root/bench/relevance/relevance_bench.py" --binary "$build/heimdex" \
  --translations "$(ls "$cache"/lists/*dists_bookworm_main_i18n_Translation-en* | head -1)" "$@"
