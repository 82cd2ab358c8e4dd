#!/usr/bin/env bash
# The load bench in one command (wrk on loopback, mixed traffic, slow clients):
#   bench/load/run.sh [--full] [--seconds N] [--connections 64] [--slow 200] [--mix embed=1,job=4,vector=4,search=1] [BUILD_DIR]
# --full is the issue's run: 180 s of ingest to fill the SQLite caches, then 60 s per phase.
# Default: 15 s per phase, no warm-up.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$root/build"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --full) args+=(--seconds 60 --warmup 180); shift ;;
    --seconds|--connections|--slow|--mix|--threads|--per-ip|--seed-jobs|--warmup) args+=("$1" "$2"); shift 2 ;;
    *) build="$1"; shift ;;
  esac
done
"$root/scripts/install-deps.sh" bench
[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j 2 --target heimdex >/dev/null
exec python3 "$here/run.py" --bin "$build/heimdex" "${args[@]}"
