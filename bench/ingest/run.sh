#!/usr/bin/env bash
# bench/ingest (extraction part): pages/s extracting the generated 1,000-page
# PDF and MB/s extracting ~8 MB of text, HTML and DOCX, plus the chunking
# rate (256 tokens, 15% overlap, default counter); medians of RUNS runs.
#   bench/ingest/run.sh [BUILD_DIR] [RUNS]
# (the upload-to-searchable part is added with POST /assets)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"; runs="${2:-5}"
[ -f "$build/libhxcore.a" ] || { echo "build first (make build)" >&2; exit 1; }
mods="libmicrohttpd jansson sqlite3 libcrypto libpq hiredis libcurl poppler-glib libarchive libxml-2.0 icu-uc icu-i18n"
cc -O2 -std=c11 -D_GNU_SOURCE -I"$root/src" -o "$build/bench-extract" "$root/bench/ingest/extract_bench.c" \
   "$build/libhxcore.a" $(pkg-config --libs $mods) -lpthread -lm
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$root/tests/fixtures/docs/gen.py" "$tmp" > /dev/null
/usr/bin/python3 "$root/bench/ingest/gen_inputs.py" "$tmp"
for f in big.pdf bench.txt bench.html bench.docx; do
  "$build/bench-extract" "$tmp/$f" "$runs"
done | python3 -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin]
print()
print("bench/ingest (extraction): medians of %d runs; chunking at 256 tokens, 15%% overlap" % rs[0]["runs"])
print("| input | file | text out | blocks | extract | rate (file) | chunks | chunk rate |")
print("|---|---|---|---|---|---|---|---|")
for r in rs:
    mb = r["bytes"] / 1e6
    rate = ("%.0f pages/s" % (r["pages"] / r["extract_s"])) if r["type"] == "pdf" else ("%.1f MB/s" % (mb / r["extract_s"]))
    name = "1,000-page PDF" if r["type"] == "pdf" else r["type"].upper()
    print("| %s | %.2f MB | %.2f MB | %d | %.3f s | %s | %d | %.1f MB text/s |" % (
        name, mb, r["text_bytes"] / 1e6, r["blocks"], r["extract_s"], rate, r["chunks"],
        r["text_bytes"] / 1e6 / r["chunk_s"]))
'
