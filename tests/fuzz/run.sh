#!/usr/bin/env bash
# Builds every libFuzzer target tests/**/fuzz_*.c (clang, ASan+UBSan, the
# project's own CMake build with HX_FUZZ=ON, so each part's libraries come from
# its module.cmake) and runs each for SECONDS (default 10).
#   tests/fuzz/run.sh [SECONDS]
# Seeds: tests/fuzz/corpus/<short>/ or, beside the target, seeds_<short>/ or
# <short>_seeds/; dictionary: <short>.dict beside the target or in tests/fuzz/
# (<short> is the file name without "fuzz_"). Any crash fails the run; the
# crashing input and the log stay in build-fuzz/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
secs="${1:-10}"
out="$root/build-fuzz"
mkdir -p "$out"
CC=clang cmake -S "$root" -B "$out" -DHX_FUZZ=ON -DHX_DEV=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$out/configure.log" 2>&1 \
  || { cat "$out/configure.log"; exit 1; }
cmake --build "$out" --target fuzzers -j2 > "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
fail=0
while read -r src; do
  [ -n "$src" ] || continue
  name="$(basename "$src" .c)"; short="${name#fuzz_}"; dir="$(dirname "$src")"
  args=()
  for c in "$root/tests/fuzz/corpus/$short" "$dir/seeds_$short" "$dir/${short}_seeds"; do
    [ -d "$c" ] && args+=("$c")
  done
  for d in "$dir/$short.dict" "$root/tests/fuzz/$short.dict"; do
    [ -f "$d" ] && { args+=(-dict="$d"); break; }
  done
  work="$out/corpus-$name"; mkdir -p "$work"
  if (cd "$out" && "./$name" "$work" "${args[@]}" -max_total_time="$secs" -max_len=65536 -timeout=20 \
        -rss_limit_mb=2048 -print_final_stats=0 > "$out/$name.log" 2>&1); then
    echo "fuzz $name: ok (${secs}s)"
  else
    echo "fuzz $name: FAILED, see $out/$name.log"; tail -30 "$out/$name.log"; fail=1
  fi
done < "$out/fuzzers.txt"
exit $fail
