#!/usr/bin/env bash
# Runs every benchmark under bench/ that has a run.sh, each printing its table.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
for b in "$root"/bench/*/run.sh; do
  echo "== $(basename "$(dirname "$b")")"
  "$b" "$build"
done
