"""bench/pipeline --backend pg: the production topology on this machine
(private PostgreSQL + Redis, one API process, two `heimdex worker` processes, the
vectors in a second heimdex serving the Qdrant-compatible API: hx.Cluster),
loaded by the same C load generator; completion times come from PostgreSQL's
job.finished_at. Prints one JSON line like the embedded run.

With HX_PROFILE=1 it also prints (to stderr) where the time went: CPU seconds
per 1,000 jobs of each process group (API, workers, the Qdrant-compatible
vector store, PostgreSQL backends, Redis, load generator), PostgreSQL WAL
records/writes/fsyncs per job (pg_stat_wal), the statements by calls per job
and total time (pg_stat_statements) and the Redis commands per job (INFO
commandstats). HX_PERF=GROUP:FILE records 4 s of `perf record -g` of one group."""
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import hx  # noqa: E402

binary, loadgen, n, clients = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
profile = os.environ.get("HX_PROFILE") == "1"
# Group commit: a committing backend waits commit_delay µs for others to join
# its WAL flush when at least commit_siblings transactions are open. Every
# commit is still flushed before it is acknowledged (synchronous_commit=on).
pg_opts = os.environ.get("HX_BENCH_PG_OPTS", "-c commit_delay=200 -c commit_siblings=2")
if profile:
    pg_opts += " -c shared_preload_libraries=pg_stat_statements -c track_io_timing=on"
TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    """user+sys seconds of pid itself and of its waited-for children"""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in f[11:15]) / TICK, int(f[1])
    except OSError:
        return 0.0, 0


def pg_cpu(postmaster):
    """CPU of the postmaster and every live or exited child of it"""
    total = cpu(postmaster)[0]
    for d in os.listdir("/proc"):
        if d.isdigit():
            t, ppid = cpu(int(d))
            if ppid == postmaster:
                total += t
    return total


def redis_stats(c):
    out = subprocess.run(["redis-cli", "-p", str(c.redis.port), "INFO", "commandstats"], capture_output=True,
                         text=True).stdout
    stats = {}
    for line in out.splitlines():
        if line.startswith("cmdstat_"):
            name, rest = line[8:].split(":", 1)
            stats[name] = int(dict(kv.split("=") for kv in rest.split(","))["calls"])
    return stats


# the API's handlers wait on PostgreSQL's commits: more of them keep more
# creates in flight to share each commit (HEIMDEX_HTTP_THREADS, 32 here)
env = {"HEIMDEX_LOG_LEVEL": "info", "HEIMDEX_HTTP_THREADS": os.environ.get("HX_BENCH_PG_HTTP_THREADS", "32")}
c = hx.Cluster(binary, apis=1, workers=2, env=env, pg_opts=pg_opts).start()
try:
    tok = hx.make_token()
    dump = os.path.join(c.tmp, "submits.txt")
    postmaster = int(open(os.path.join(c.pg.data, "postmaster.pid")).readline())
    groups = {"api": lambda: sum(cpu(a.proc.pid)[0] for a in c.apis),
              "workers": lambda: sum(cpu(w.proc.pid)[0] for w in c.workers),
              "vstore": lambda: cpu(c.qdrant.proc.pid)[0],
              "postgres": lambda: pg_cpu(postmaster), "redis": lambda: cpu(c.redis.proc.pid)[0],
              "loadgen": lambda: resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime +
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime}
    if profile:
        c.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        c.sql("SELECT pg_stat_statements_reset(), pg_stat_reset_shared('wal')")
        r0 = redis_stats(c)
    cpu0 = {k: f() for k, f in groups.items()}
    lg = subprocess.Popen([loadgen, str(c.port), tok, str(n), str(clients), "-"], stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "LOADGEN_DUMP": dump})
    # perf record of one process group for 4 s, 2 s into the run:
    # HX_PERF_PG=FILE (PostgreSQL backends) or HX_PERF=GROUP:FILE (api, workers, vstore)
    perf = ("postgres:" + os.environ["HX_PERF_PG"]) if os.environ.get("HX_PERF_PG") else os.environ.get("HX_PERF")
    if perf:
        what, out_file = perf.split(":", 1)
        time.sleep(2)
        if what == "postgres":
            pids = [d for d in os.listdir("/proc") if d.isdigit() and cpu(int(d))[1] == postmaster]
        else:
            procs = {"api": c.apis, "workers": c.workers, "vstore": [c.qdrant]}[what]
            pids = [str(x.proc.pid) for x in procs]
        subprocess.run(["perf", "record", "-g", "-o", out_file, "-p", ",".join(pids), "--", "sleep", "4"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = lg.communicate()[0]
    if lg.returncode:
        raise SystemExit("loadgen failed: %s" % out)
    cpu1 = {k: f() for k, f in groups.items()}
    r = json.loads(out)
    submits = dict(line.split() for line in open(dump))
    rows = c.sql("SELECT id, extract(epoch from finished_at) FROM job WHERE finished_at IS NOT NULL")
    fin = {jid: float(t) for jid, t in rows}
    lat = sorted(fin[j] - float(t) for j, t in submits.items() if j in fin)
    span = max(fin[j] for j in submits if j in fin) - r["t0"]
    r.update({"e2e_s": span, "jobs_per_s": len(lat) / span, "p50_ms": lat[len(lat) // 2] * 1000,
              "p99_ms": lat[int(len(lat) * 0.99)] * 1000, "max_ms": lat[-1] * 1000,
              "server_cpu_s": cpu1["api"] - cpu0["api"] + cpu1["workers"] - cpu0["workers"],
              "cpu_ms_per_job": {k: round(1000 * (cpu1[k] - cpu0[k]) / n, 3) for k in groups}})
    if profile:
        w = c.sql("SELECT wal_records, wal_bytes, wal_write, wal_sync FROM pg_stat_wal")[0]
        print("pg_stat_wal per job: records %.2f bytes %.0f writes %.3f fsyncs %.3f" %
              tuple(float(x) / n for x in w), file=sys.stderr)
        for calls, ms, rows_, q in c.sql("SELECT calls, round(total_exec_time::numeric, 1), rows, left(regexp_replace("
                                         "query, '\\s+', ' ', 'g'), 90) FROM pg_stat_statements ORDER BY calls DESC "
                                         "LIMIT 12"):
            print("  pg %8.3f calls/job %8.1f ms total %7.3f rows/call  %s" %
                  (int(calls) / n, float(ms), int(rows_) / max(int(calls), 1), q), file=sys.stderr)
        r1 = redis_stats(c)
        print("redis calls per job: " + ", ".join("%s %.3f" % (k, (v - r0.get(k, 0)) / n) for k, v in
                                                   sorted(r1.items(), key=lambda kv: -kv[1]) if v - r0.get(k, 0)),
              file=sys.stderr)
        print("cpu ms per job: %s" % r["cpu_ms_per_job"], file=sys.stderr)
    print(json.dumps(r))
finally:
    c.cleanup()
