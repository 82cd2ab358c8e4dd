#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.c with clang's libFuzzer + ASan/UBSan against
# the project sources and runs each for SECONDS (default 10) from its corpus.
#   tests/fuzz/run.sh [SECONDS]
# Any crash fails the run; the crashing input is kept in the build dir.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
secs="${1:-10}"
out="$root/build-fuzz"
mkdir -p "$out"
cflags="$(pkg-config --cflags libmicrohttpd jansson sqlite3 libcrypto libpq hiredis libcurl poppler-glib libarchive libxml-2.0 icu-uc icu-i18n)"
libs="$(pkg-config --libs libmicrohttpd jansson sqlite3 libcrypto libpq hiredis libcurl poppler-glib libarchive libxml-2.0 icu-uc icu-i18n) -lpthread -lm"
srcs=$(find "$root/src" -name '*.c' ! -path '*/cli/main.c' | sort)
# the served documents are embedded by CMake; the fuzz targets do not serve them
cat > "$out/docs_stub.c" <<'EOC'
const unsigned char hx_doc_openapi_json[] = {0}, hx_doc_api_html[] = {0};
const unsigned long hx_doc_openapi_json_len = 0, hx_doc_api_html_len = 0;
EOC
srcs="$srcs $out/docs_stub.c"
# a part's extra libraries (src/*/module.cmake) are not needed by these targets' code paths
fail=0
for t in "$root"/tests/fuzz/fuzz_*.c; do
  name="$(basename "$t" .c)"
  corpus="$root/tests/fuzz/corpus/${name#fuzz_}"
  bin="$out/$name"
  clang -g -O1 -std=c11 -D_GNU_SOURCE -DHX_VERSION='"fuzz"' -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I"$root/src" $cflags "$t" $srcs $libs -o "$bin"
  work="$out/corpus-$name"; mkdir -p "$work"
  dict=(); [ -f "$root/tests/fuzz/${name#fuzz_}.dict" ] && dict=(-dict="$root/tests/fuzz/${name#fuzz_}.dict")
  [ "$name" = fuzz_auth ] && dict=(-dict="$root/tests/fuzz/jwt.dict")
  if (cd "$out" && "$bin" "$work" "$corpus" "${dict[@]}" -max_total_time="$secs" -max_len=8192 \
        -print_final_stats=0 > "$out/$name.log" 2>&1); then
    echo "fuzz $name: ok ($(grep -c . "$out/$name.log" || true) log lines, ${secs}s)"
  else
    echo "fuzz $name: FAILED, see $out/$name.log"; tail -30 "$out/$name.log"; fail=1
  fi
done
exit $fail
