#!/usr/bin/env bash
# bench/ingest: pages/s extracting the generated 1,000-page PDF and MB/s
# extracting ~8 MB of text, HTML and DOCX, plus the chunking rate (256
# tokens, 15% overlap, default counter); then MB/s from upload to searchable
# through the real service (POST /assets -> job completed -> last chunk's
# point readable) with the built-in lexical embedder, on the same files in the
# same run, with its ratio to extraction + chunking alone (the anchor: what
# the service adds is upload, embedding and durable upserts). Medians of RUNS
# runs.
#   bench/ingest/run.sh [BUILD_DIR] [RUNS]
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
done > "$tmp/extract.jsonl"
/usr/bin/python3 "$root/bench/ingest/upload_bench.py" "$build/heimdex" "$runs" \
  "$tmp/big.pdf" "$tmp/bench.txt" "$tmp/bench.html" "$tmp/bench.docx" > "$tmp/upload.jsonl"
python3 - "$tmp/extract.jsonl" "$tmp/upload.jsonl" <<'PY'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
us = [json.loads(l) for l in open(sys.argv[2])]
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
print()
print("bench/ingest (upload to searchable): heimdex serve, lexical embedder, medians of %d runs" % us[0]["runs"])
print("| input | file | chunks | upload->searchable | MB/s (file) | MB/s (text) | extract+chunk alone | ratio |")
print("|---|---|---|---|---|---|---|---|")
for r, u in zip(rs, us):
    name = "1,000-page PDF" if r["type"] == "pdf" else r["type"].upper()
    alone = r["extract_s"] + r["chunk_s"]
    extra = (" (%.0f pages/s)" % (r["pages"] / u["upload_s"])) if r["type"] == "pdf" else ""
    print("| %s | %.2f MB | %d | %.3f s | %.2f MB/s%s | %.2f MB/s | %.3f s | %.2fx |" % (
        name, u["bytes"] / 1e6, u["chunks"], u["upload_s"], u["bytes"] / 1e6 / u["upload_s"], extra,
        r["text_bytes"] / 1e6 / u["upload_s"], alone, u["upload_s"] / alone))
print()
print("where the job's time goes (medians, seconds, from the job result):")
print("| input | extract | chunk | embed | store (upserts) | job total | upload->searchable |")
print("|---|---|---|---|---|---|---|")
for r, u in zip(rs, us):
    w = u["worker_s"]
    name = "1,000-page PDF" if r["type"] == "pdf" else r["type"].upper()
    print("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |" % (name, w["extract"], w["chunk"], w["embed"], w["store"],
                                                         w["total"], u["upload_s"]))
PY
