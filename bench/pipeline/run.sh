#!/usr/bin/env bash
# bench/pipeline: N mock jobs from concurrent clients, end to end (submit ->
# completed), with durable commits (synchronous=FULL, the default) and the
# default log level (one JSON access-log line per request, to a file). Prints a
# table; the target from the issue is >= 2,000 jobs/s on this 2-core machine.
#   bench/pipeline/run.sh [BUILD_DIR] [N] [CLIENTS] [RUNS]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"; n="${2:-20000}"; clients="${3:-32}"; runs="${4:-3}"
bin="$build/heimdex"
cc -O2 -o "$build/bench-pipeline-loadgen" "$root/bench/pipeline/loadgen.c" -lpthread -lsqlite3
tmp="$(mktemp -d)"; trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
export DEV_JWT_SECRET=bench HEIMDEX_ENV=local HEIMDEX_LOG_LEVEL=${HEIMDEX_LOG_LEVEL:-info} HEIMDEX_DATA_DIR="$tmp/data" \
       HEIMDEX_LISTEN="127.0.0.1:$port" HEIMDEX_HTTP_THREADS="${HEIMDEX_HTTP_THREADS:-16}"
results=()
for r in $(seq 1 "$runs"); do
  rm -rf "$tmp/data"
  "$bin" serve > "$tmp/server.log" 2>&1 & pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
  tok=$("$bin" token --org 550e8400-e29b-41d4-a716-446655440000 --user bench)
  cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
  out=$("$build/bench-pipeline-loadgen" "$port" "$tok" "$n" "$clients" "$tmp/data/ledger.db")
  cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
  ticks=$(getconf CLK_TCK)
  out="${out%\}},\"server_cpu_s\":$(python3 -c "print(($cpu1-$cpu0)/$ticks)")}"
  kill "$pid"; wait "$pid" || true
  echo "run $r: $out" >&2
  results+=("$out")
done
printf '%s\n' "${results[@]}" | python3 -c '
import json, statistics, sys
rs = [json.loads(l) for l in sys.stdin]
med = lambda k: statistics.median(r[k] for r in rs)
target = 2000.0
print()
print("bench/pipeline: %d mock jobs per run, %d clients, %d runs, durable commits (medians)" % (rs[0]["jobs"], int(sys.argv[1]), len(rs)))
print("| metric | value | target | ratio |")
print("|---|---|---|---|")
print("| end-to-end jobs/s (submit -> completed) | %.0f | %.0f | %.2fx |" % (med("jobs_per_s"), target, med("jobs_per_s") / target))
print("| submit (POST /vectors/mock) req/s | %.0f | | |" % med("submit_per_s"))
print("| p50 submit->completed latency | %.1f ms | | |" % med("p50_ms"))
print("| p99 submit->completed latency | %.1f ms | | |" % med("p99_ms"))
print("| server CPU per 1,000 jobs (user+sys, incl. polling) | %.0f ms | | |" % statistics.median(1000 * r["server_cpu_s"] / r["jobs"] * 1000 for r in rs))
print("| errors (all runs) | %d | 0 | |" % sum(r["errors"] for r in rs))
print("| completed confirmed via GET /jobs | %d/%d | | |" % (sum(r["completed"] for r in rs), sum(r["jobs"] for r in rs)))
' "$clients"
