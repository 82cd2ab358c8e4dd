"""Crash test: kill -9 the server while 1,000 mock jobs are in flight, restart it
on the same data dir, and check that every acknowledged job (and every job
re-submitted after the crash) reaches `completed` with exactly one point each,
at the point id the original formula gives, with the bit-exact vector."""
import os
import sqlite3
import threading
import time

import hx
import numpy_ref
from hx import ORG, check

N = 1000
THREADS = 8


def submit_all(s, tok, indices, acked, stop_evt):
    lock = threading.Lock()
    todo = list(indices)

    def worker():
        while not stop_evt.is_set():
            with lock:
                if not todo:
                    return
                i = todo.pop()
            try:
                st, r = s.req("POST", "/vectors/mock", {"asset_id": "crash", "segment_id": f"seg-{i}"}, tok, timeout=10)
            except OSError:
                continue  # server died: not acknowledged
            if st == 200:
                with lock:
                    acked[i] = r["job_id"]

    ts = [threading.Thread(target=worker) for _ in range(THREADS)]
    [t.start() for t in ts]
    return ts


def test_kill9_midflight(binary):
    # one worker taking one job at a time falls behind the submitters, so many
    # jobs are queued or running at the kill
    s = hx.Server(binary, env={"HEIMDEX_WORKERS": "1", "HEIMDEX_WORKER_BATCH": "1"})
    tok = hx.make_token()
    acked = {}
    try:
        s.start()
        stop = threading.Event()
        ts = submit_all(s, tok, range(N), acked, stop)
        deadline = time.time() + 60
        while len(acked) < N // 2 and time.time() < deadline:
            time.sleep(0.005)
        s.kill9()
        stop.set()
        [t.join() for t in ts]
        db = sqlite3.connect(os.path.join(s.data, "ledger.db"))
        open_at_kill = db.execute("SELECT count(*) FROM job WHERE status IN ('queued','running')").fetchone()[0]
        db.close()
        print(f"acknowledged before kill: {len(acked)}, open jobs at kill: {open_at_kill}", flush=True)
        check(open_at_kill > 0, "jobs were in flight at the kill", open_at_kill)

        s.port = hx.free_port()
        s.base = f"http://127.0.0.1:{s.port}"
        s.env["HEIMDEX_LISTEN"] = f"127.0.0.1:{s.port}"
        s.env["HEIMDEX_WORKERS"] = "2"
        s.env["HEIMDEX_WORKER_BATCH"] = "64"
        s.start()
        before = dict(acked)
        stop = threading.Event()
        [t.join() for t in submit_all(s, tok, [i for i in range(N) if i not in acked], acked, stop)]
        check(len(acked) == N, "all submitted", len(acked))
        for i, jid in before.items():
            st, r = s.req("POST", "/vectors/mock", {"asset_id": "crash", "segment_id": f"seg-{i}"}, tok)
            check(r["job_id"] == jid, "acknowledged job survives, same id on resubmit", i, jid, r)
        for i, jid in acked.items():
            job = s.wait_job(jid, tok, timeout=120)
            check(job["status"] == "completed", "completed", i, job)
            check(job["result"]["point_id"] == hx.point_id(ORG, "crash", f"seg-{i}"), "point id", job)
        # spot-check vectors against the reference generator
        for i in (0, N // 2, N - 1):
            pid = hx.point_id(ORG, "crash", f"seg-{i}")
            st, p = s.req("GET", f"/vectors/{pid}", token=tok)
            seed = int(pid[:8], 16)
            want = numpy_ref.normalized_f32(numpy_ref.random_f32(seed, 384))
            check(numpy_ref.close_f32(p["vector"], want), "vector", i)
        s.stop()
        # offline: the engine's integrity check, one point per job, no phantom
        v = s.vectors(org=ORG)
        check(v["check"] == "ok", "engine integrity", v["check"])
        ids = v["collections"]["embeddings"]["ids"]
        want = {hx.point_id(ORG, "crash", f"seg-{i}") for i in range(N)}
        check(len(ids) == N and set(ids) == want, "exactly the expected point ids, once each", len(ids))
        db = sqlite3.connect(os.path.join(s.data, "ledger.db"))
        left = db.execute("SELECT count(*) FROM job WHERE status != 'succeeded'").fetchone()[0]
        check(left == 0, "no job stuck", left)
        check(db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0, "outbox drained")
    finally:
        s.cleanup()


def main():
    a = hx.args()
    run = hx.Runner()
    run.run(test_kill9_midflight, a.bin)
    run.finish()


if __name__ == "__main__":
    main()
