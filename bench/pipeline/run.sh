#!/usr/bin/env bash
# bench/pipeline: N mock jobs from concurrent clients, end to end (submit ->
# completed), with durable commits (synchronous=FULL, the default) and the
# default log level (one JSON access-log line per request, to a file). Prints a
# table; the target from the issue is >= 2,000 jobs/s on this 2-core machine.
#   bench/pipeline/run.sh [--backend embedded|pg|both] [BUILD_DIR] [N] [CLIENTS] [RUNS]
# --backend pg runs the production topology (private PostgreSQL + Redis, one
# API process with 32 HTTP threads, two `heimdex worker` processes; PostgreSQL
# with fsync and synchronous_commit on, commit_delay=200 µs so concurrent commits
# share a WAL flush); its target is >= 1,000 jobs/s. Its row also gives the CPU
# ms per job of each process group (the machine is shared: CPU per job is the
# figure that noise does not move much). HX_PROFILE=1 prints round trips too.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
backend=embedded
if [ "${1:-}" = "--backend" ]; then backend="$2"; shift 2; fi
build="${1:-$root/build}"; n="${2:-20000}"; clients="${3:-32}"; runs="${4:-3}"
bin="$build/heimdex"
cc -O2 -o "$build/bench-pipeline-loadgen" "$root/bench/pipeline/loadgen.c" -lpthread -lsqlite3
tmp="$(mktemp -d)"; trap 'kill ${pid:-} 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
export DEV_JWT_SECRET=bench HEIMDEX_ENV=local HEIMDEX_LOG_LEVEL=${HEIMDEX_LOG_LEVEL:-info} HEIMDEX_DATA_DIR="$tmp/data" \
       HEIMDEX_LISTEN="127.0.0.1:$port" HEIMDEX_HTTP_THREADS="${HEIMDEX_HTTP_THREADS:-16}"
results=()
pg_results=()
if [ "$backend" = pg ] || [ "$backend" = both ]; then
  "$root/scripts/install-deps.sh" test
  for r in $(seq 1 "$runs"); do
    out=$(python3 "$root/bench/pipeline/pg_cluster.py" "$bin" "$build/bench-pipeline-loadgen" "$n" "$clients")
    echo "pg run $r: $out" >&2
    pg_results+=("$out")
  done
fi
[ "$backend" = pg ] && runs=0
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
{ for x in "${results[@]}"; do echo "embedded $x"; done; for x in "${pg_results[@]}"; do echo "pg $x"; done; } | python3 -c '
import json, statistics, sys
runs = {}
for line in sys.stdin:
    kind, js = line.split(" ", 1)
    runs.setdefault(kind, []).append(json.loads(js))
targets = {"embedded": 2000.0, "pg": 1000.0}
print()
print("bench/pipeline: %s clients, durable commits, medians of the runs" % sys.argv[1])
print("| backend | runs | jobs | end-to-end jobs/s | target | ratio | submit req/s | p50 ms | p99 ms | errors |")
print("|---|---|---|---|---|---|---|---|---|---|")
for kind, rs in runs.items():
    med = lambda k: statistics.median(r[k] for r in rs)
    print("| %s | %d | %d | %.0f | %.0f | %.2fx | %.0f | %.1f | %.1f | %d |" % (
        kind, len(rs), rs[0]["jobs"], med("jobs_per_s"), targets[kind], med("jobs_per_s") / targets[kind],
        med("submit_per_s"), med("p50_ms"), med("p99_ms"), sum(r["errors"] for r in rs)))
    if "cpu_ms_per_job" in rs[0]:
        parts = {k: statistics.median(r["cpu_ms_per_job"][k] for r in rs) for k in rs[0]["cpu_ms_per_job"]}
        print("|  | CPU ms per job: %s; total %.2f (2 cores: at most %.0f jobs/s) |||||||||" % (
            ", ".join("%s %.3f" % kv for kv in parts.items()), sum(parts.values()), 2000 / sum(parts.values())))
    if kind == "embedded":
        print("|  | server CPU per 1,000 jobs (user+sys, incl. polling): %.0f ms |||||||||" %
              statistics.median(1000 * r["server_cpu_s"] / r["jobs"] * 1000 for r in rs))
' "$clients"
