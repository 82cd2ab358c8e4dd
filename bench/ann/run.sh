#!/usr/bin/env bash
# The vector engine's benchmark in one command:
#   bench/ann/run.sh [--points 1000000] [--peers hnswlib,faiss] [--keep DIR] [BUILD_DIR]
# (--keep DIR: the indexed collection is kept in DIR and reused by the next run
# with the same points, skipping the build; --peers none runs the engine only)
# Builds bench_ann, generates the data set (NumPy, seed 42), runs heimdex,
# hnswlib and FAISS on it and prints one table with ratios against the targets.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
points=100000
peers=hnswlib,faiss
keep=()
build="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --points) points="$2"; shift 2 ;;
    --peers) peers="$2"; shift 2 ;;
    --keep) keep=(--keep "$2"); shift 2 ;;
    *) build="$1"; shift ;;
  esac
done
"$root/scripts/install-deps.sh" bench
[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" --target bench_ann -j 2 >/dev/null
mkdir -p /tmp/hxvec-bench
exec /usr/bin/python3 "$here/ann.py" --points "$points" --peers "$peers" --bin "$build/bench_ann" "${keep[@]}"
