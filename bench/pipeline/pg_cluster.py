"""bench/pipeline --backend pg: the production topology on this machine
(private PostgreSQL + Redis, one API process, two `heimdex worker` processes, the
vectors in a second heimdex serving the Qdrant-compatible API: hx.Cluster),
loaded by the same C load generator; completion times come from PostgreSQL's
job.finished_at. Prints one JSON line like the embedded run."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import hx  # noqa: E402

binary, loadgen, n, clients = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = hx.Cluster(binary, apis=1, workers=2, env={"HEIMDEX_LOG_LEVEL": "info"}).start()
try:
    tok = hx.make_token()
    dump = os.path.join(c.tmp, "submits.txt")
    pid = c.apis[0].proc.pid
    out = subprocess.run([loadgen, str(c.port), tok, str(n), str(clients), "-"], capture_output=True, text=True,
                         env={**os.environ, "LOADGEN_DUMP": dump}, check=True).stdout
    r = json.loads(out)
    submits = dict(line.split() for line in open(dump))
    rows = c.sql("SELECT id, extract(epoch from finished_at) FROM job WHERE finished_at IS NOT NULL")
    fin = {jid: float(t) for jid, t in rows}
    lat = sorted(fin[j] - float(t) for j, t in submits.items() if j in fin)
    span = max(fin[j] for j in submits if j in fin) - r["t0"]
    r.update({"e2e_s": span, "jobs_per_s": len(lat) / span, "p50_ms": lat[len(lat) // 2] * 1000,
              "p99_ms": lat[int(len(lat) * 0.99)] * 1000, "max_ms": lat[-1] * 1000, "server_cpu_s": 0.0})
    print(json.dumps(r))
finally:
    c.cleanup()
