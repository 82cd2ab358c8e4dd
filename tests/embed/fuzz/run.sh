#!/usr/bin/env bash
# tests/embed/fuzz/run.sh [SECONDS] - build the embed fuzz targets with clang
# (libFuzzer + ASan + UBSan) and run each for SECONDS (default 60) from the
# committed seeds. Crashes land in tests/embed/fuzz/crash-* ; turn each into a
# regression test in tests/unit/embed. Not run by `make test`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
secs="${1:-60}"
out="${TMPDIR:-/tmp}/hx-embed-fuzz"
mkdir -p "$out"
cflags="-g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I$root/src $(pkg-config --cflags jansson libutf8proc)"
libs="$(pkg-config --libs jansson libutf8proc) -lm"
srcs="$root/src/embed/tokenizer.c $root/src/embed/lexical.c $root/src/embed/files.c $root/src/util/err.c"
clang $cflags "$here/fuzz_tokenizer.c" $srcs $libs -o "$out/fuzz_tokenizer"
clang $cflags "$here/fuzz_safetensors.c" "$root/src/embed/safetensors.c" "$root/src/util/err.c" $libs \
  -o "$out/fuzz_safetensors"
for t in tokenizer safetensors; do
  mkdir -p "$out/corpus_$t"
  echo "fuzzing $t for ${secs}s" >&2
  "$out/fuzz_$t" -max_total_time="$secs" -artifact_prefix="$here/crash-$t-" \
    -dict="$here/$t.dict" "$out/corpus_$t" "$here/seeds_$t" 2>&1 | tail -3
done
