#!/usr/bin/env bash
# The load bench in one command (wrk on loopback, mixed traffic, slow clients):
#   bench/load/run.sh [--full] [--seconds N] [--connections 64] [--slow 200] [--segments N] [--mix embed=1,job=4,vector=4,search=1] [BUILD_DIR]
# --full is the issue's run: 180 s of embeds over a fixed set of 600 segments per wrk thread
# (every request a new job, the points stored fixed once each segment exists), then 60 s per
# phase of the mixed traffic over the same segments; VmRSS must stay flat (PASS/FAIL).
# Default: 15 s per phase, no warm-up, a new segment per embed (the store grows).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$root/build"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --full) args+=(--seconds 60 --warmup 180 --segments 600); shift ;;
    --seconds|--connections|--slow|--mix|--threads|--per-ip|--seed-jobs|--warmup|--segments) args+=("$1" "$2"); shift 2 ;;
    *) build="$1"; shift ;;
  esac
done
"$root/scripts/install-deps.sh" bench
[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j 2 --target heimdex >/dev/null
exec python3 "$here/run.py" --bin "$build/heimdex" "${args[@]}"
