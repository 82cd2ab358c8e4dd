"""Crash-and-restart soak (`make soak`, minutes, not in CI).

Rounds until the time is up: start `heimdex serve` on one data dir, check
every job acknowledged so far (all rounds) reaches `completed` with its point
readable, then drive mixed traffic - POST /vectors/mock and /vectors/embed
(new work each time), GET /jobs/{id}, GET /vectors/{id}, and POST
/vectors/search when the route exists - from several threads, and SIGKILL the
server at a random moment (0.3 .. --max-kill-sec after the load starts). With
the server down: `heimdex doctor` must pass, and so must the engine's offline
check (`heimdex vectors`) when this build has it.

At the end the server is restarted once more, every acknowledged job must be
completed, re-submitting acknowledged requests must return the same job ids,
the server must exit cleanly on SIGTERM, and the vector store must hold
exactly the expected point ids, each once (engine: `heimdex vectors --org`;
SQLite store: the points table). Any 5xx during load is counted and fails the
run (a connection refused / reset by the kill is not a response).

  tests/soak/run.py --bin build/heimdex [--minutes 3] [--seed N]
"""
import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "integration"))
import hx  # noqa: E402
from hx import ORG, check  # noqa: E402


class State:
    """What the server acknowledged: request key -> job id, and the expected point per job."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}        # ("mock"|"embed", asset, segment, text) -> job id
        self.point_of = {}     # job id -> point id (mock: by formula; embed: from the job result)
        self.done = set()      # job ids seen completed
        self.counter = 0
        self.sent = []         # every create sent, acknowledged or not (a kill can eat the answer of a committed job)
        self.model = None      # (model, model_ver) of the embed jobs, from their results
        self.responses = {}    # status -> count
        self.five_xx = []

    def next(self):
        with self.lock:
            self.counter += 1
            return self.counter


def load(srv, tok, st, stop, rng, search_on):
    while not stop.is_set():
        r = rng.random()
        try:
            if r < 0.30:
                i = st.next()
                key = ("mock", "soak", f"m{i}", None)
                with st.lock:
                    st.sent.append(key)
                code, j = srv.req("POST", "/vectors/mock", {"asset_id": "soak", "segment_id": f"m{i}"}, tok, timeout=10)
            elif r < 0.55:
                i = st.next()
                text = f"soak text {i} {rng.random()}"
                key = ("embed", "soak-e", f"e{i}", text)
                with st.lock:
                    st.sent.append(key)
                code, j = srv.req("POST", "/vectors/embed", {"asset_id": "soak-e", "segment_id": f"e{i}", "text": text},
                                  tok, timeout=10)
            else:
                key = None
                with st.lock:
                    jobs = list(st.done) if st.done and r < 0.9 else list(st.acked.values())
                if not jobs:
                    continue
                jid = rng.choice(jobs)
                if r < 0.75:
                    code, j = srv.req("GET", f"/jobs/{jid}", token=tok, timeout=10)
                elif r < 0.9 or not search_on:
                    pid = st.point_of.get(jid)
                    if not pid:
                        continue
                    code, j = srv.req("GET", f"/vectors/{pid}", token=tok, timeout=10)
                else:
                    code, j = srv.req("POST", "/vectors/search", {"query": "soak text", "limit": 5}, tok, timeout=10)
        except OSError:
            continue  # the server is being killed: not a response
        with st.lock:
            st.responses[code] = st.responses.get(code, 0) + 1
            if code >= 500:
                st.five_xx.append((key, code, j))
            if key and code == 200:
                prev = st.acked.setdefault(key, j["job_id"])
                if prev != j["job_id"]:
                    st.five_xx.append((key, "different job id for one request", prev, j["job_id"]))
                if key[0] == "mock":
                    st.point_of[j["job_id"]] = hx.point_id(ORG, key[1], key[2])


def verify_all(srv, tok, st, timeout):
    """Every acknowledged job completes and its point is readable."""
    with st.lock:
        todo = [jid for jid in st.acked.values() if jid not in st.done]
    deadline = time.time() + timeout
    for jid in todo:
        job = srv.wait_job(jid, tok, timeout=max(1.0, deadline - time.time()))
        check(job["status"] == "completed", "acknowledged job completed", jid, job)
        pid = (job.get("result") or {}).get("point_id")
        check(pid is not None, "completed job names its point", job)
        with st.lock:
            want = st.point_of.setdefault(jid, pid)
            if job["result"].get("asset_id") == "soak-e":
                st.model = (job["result"]["model"], job["result"]["model_ver"])
        check(pid == want, "the point id of the request", jid, pid, want)
        code, p = srv.req("GET", f"/vectors/{pid}", token=tok)
        check(code == 200 and p.get("id", pid) == pid, "point readable", pid, code, p)
        with st.lock:
            st.done.add(jid)
    return len(todo)


def offline_checks(srv, final_ids=None, allowed=None):
    r = subprocess.run([srv.binary, "doctor"], env=srv.env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "heimdex doctor passes", r.stdout, r.stderr)
    r = subprocess.run([srv.binary, "vectors", "--org", ORG], env=srv.env, capture_output=True, text=True, timeout=120)
    if r.returncode == 2 and "unknown command" in r.stderr:
        ids = None
        path = os.path.join(srv.data, "vectors.db")
        if final_ids is not None and os.path.exists(path):
            db = sqlite3.connect(path)
            ids = [row[0] for row in db.execute("SELECT id FROM points WHERE org_id=?", (ORG,))]
            db.close()
        engine = "sqlite store (no engine check in this build)"
    else:
        import json
        check(r.returncode == 0, "heimdex vectors runs", r.stdout, r.stderr)
        v = json.loads(r.stdout)
        check(v["check"] == "ok", "engine integrity check", v["check"])
        ids = [i for c in v["collections"].values() for i in (c.get("ids") or [])]
        engine = "engine check ok"
    if final_ids is not None and ids is not None:
        dup = len(ids) - len(set(ids))
        check(dup == 0, "no duplicate point", dup)
        check(set(final_ids) <= set(ids), "every acknowledged job's point is stored", len(set(final_ids) - set(ids)))
        # points beyond those: requests committed whose answer the kill swallowed - still ones we sent
        extra = set(ids) - set(final_ids)
        check(extra <= allowed, "no point from anywhere else", len(extra - allowed))
        return engine + f"; {len(extra)} more points of requests whose answer the kill swallowed"
    return engine


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "3")))
    p.add_argument("--seed", type=int, default=int(os.environ.get("SOAK_SEED", str(int(time.time())))))
    p.add_argument("--threads", type=int, default=6)
    p.add_argument("--max-kill-sec", type=float, default=4.0)
    a = p.parse_args()
    rng = random.Random(a.seed)
    print(f"soak: {a.minutes} min, seed {a.seed}", flush=True)
    srv = hx.Server(a.bin, env={"HEIMDEX_MOCK_STAGE_MS": "5,5,5", "HEIMDEX_LOG_LEVEL": "warn"})
    tok = hx.make_token()
    st = State()
    end = time.time() + a.minutes * 60
    rounds = 0
    try:
        while True:
            srv.port = hx.free_port()
            srv.base = f"http://127.0.0.1:{srv.port}"
            srv.env["HEIMDEX_LISTEN"] = f"127.0.0.1:{srv.port}"
            srv.start()
            t0 = time.time()
            n = verify_all(srv, tok, st, timeout=180)
            print(f"round {rounds}: restart verified {n} newly finished jobs in {time.time() - t0:.1f} s"
                  f" ({len(st.acked)} acknowledged so far)", flush=True)
            if time.time() >= end:
                break
            code, _ = srv.req("POST", "/vectors/search", {"query": "x", "limit": 1}, tok)
            search_on = code not in (404, 405)
            stop = threading.Event()
            ts = [threading.Thread(target=load, args=(srv, tok, st, stop, random.Random(rng.random()), search_on))
                  for _ in range(a.threads)]
            [t.start() for t in ts]
            time.sleep(rng.uniform(0.3, a.max_kill_sec))
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait()
            stop.set()
            [t.join() for t in ts]
            srv.log.close()
            engine = offline_checks(srv)
            rounds += 1
            print(f"round {rounds}: killed; doctor ok, {engine}", flush=True)
        # final: resubmits return the acknowledged ids, clean stop, exact point set
        with st.lock:
            sample = rng.sample(sorted(st.acked.items()), min(200, len(st.acked)))
        for (kind, asset, seg, text), jid in sample:
            body = {"asset_id": asset, "segment_id": seg}
            if kind == "embed":
                body["text"] = text
            code, j = srv.req("POST", f"/vectors/{kind}", body, tok)
            check(code == 200 and j["job_id"] == jid, "resubmit returns the acknowledged job", kind, seg, jid, j)
        check(srv.stop() == 0, "clean exit on SIGTERM", srv.tail())
        allowed = set()
        for kind, asset, seg, _ in st.sent:
            if kind == "mock":
                allowed.add(hx.point_id(ORG, asset, seg))
            elif st.model:
                allowed.add(hx.point_id(ORG, asset, seg, *st.model))
        engine = offline_checks(srv, final_ids=set(st.point_of.values()), allowed=allowed)
        check(not st.five_xx, "no 5xx under load", st.five_xx[:5])
        # the ledger: every job ever committed (answered or not) finished, nothing left to dispatch
        stuck = srv.sql("SELECT count(*) FROM job WHERE status != 'succeeded'")[0][0]
        check(stuck == 0, "no job left unfinished in the ledger", stuck)
        check(srv.sql("SELECT count(*) FROM outbox")[0][0] == 0, "outbox drained")
        print(f"soak ok: {rounds} kills, {len(st.acked)} jobs acknowledged and completed, {len(st.point_of)} points"
              f" exactly once ({engine}); responses {dict(sorted(st.responses.items()))}", flush=True)
    except Exception:
        print(srv.tail(), file=sys.stderr)
        raise
    finally:
        srv.cleanup()


if __name__ == "__main__":
    main()
