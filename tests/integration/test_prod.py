"""The production topology's failure behaviour: a worker killed mid-job is
replaced by another that reclaims its delivery; PostgreSQL and Redis restarts
are survived without restarting heimdex; /readyz reports the real
dependencies."""
import json
import os
import subprocess
import threading
import time

import hx
from hx import check


def wait_status(c, jid, tok, want, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, j = c.req("GET", f"/jobs/{jid}", token=tok)
        if st == 200 and j["status"] == want:
            return j
        time.sleep(0.05)
    raise AssertionError(f"job {jid} never {want}: {j}")


def test_worker_killed_midjob(binary):
    c = hx.Cluster(binary, apis=1, workers=2, env={"HEIMDEX_MOCK_STAGE_MS": "1500,1500,1500"}).start()
    try:
        tok = hx.make_token()
        st, r = c.req("POST", "/jobs", {}, tok)
        check(st == 200, "create", st, r)
        wait_status(c, r["job_id"], tok, "processing")
        for w in c.workers:
            w.kill9()
        fresh = hx.Server(binary, env=c.workers[0].env, data_dir=c.data).start_cmd(["worker"])
        c.workers.append(fresh)
        job = c.wait_job(r["job_id"], tok, timeout=60)
        check(job["status"] == "completed", "completed by the new worker", job)
        row = c.sql("SELECT status, attempt FROM job WHERE id=?", (r["job_id"],))[0]
        check(row == ("succeeded", 2), "second attempt after reclaim", row)
        check(b"queue_reclaimed" in open(fresh.tmp + "/server.log", "rb").read(), "reclaim logged")
    finally:
        c.cleanup()


def test_dependency_restarts(binary):
    c = hx.Cluster(binary, apis=1, workers=1).start()
    try:
        tok = hx.make_token()
        st, r = c.req("POST", "/vectors/mock", {"asset_id": "pg", "segment_id": "before"}, tok)
        check(c.wait_job(r["job_id"], tok)["status"] == "completed", "before restarts")

        c.pg.stop("fast")
        st, r = c.req("POST", "/vectors/mock", {"asset_id": "pg", "segment_id": "down"}, tok)
        check(st >= 500, "a create while PostgreSQL is down fails cleanly", st, r)
        c.pg.start()
        st, r = c.req("POST", "/vectors/mock", {"asset_id": "pg", "segment_id": "after"}, tok)
        check(st == 200, "PostgreSQL is used again after its restart", st, r)
        check(c.wait_job(r["job_id"], tok)["status"] == "completed", "job after PostgreSQL restart")

        c.redis.stop()
        st, r = c.req("POST", "/vectors/mock", {"asset_id": "redis", "segment_id": "while-down"}, tok)
        check(st == 200, "creates are durable in the ledger while Redis is down", st, r)
        time.sleep(1.0)
        c.redis.start()
        check(c.wait_job(r["job_id"], tok, timeout=60)["status"] == "completed",
              "the job created while Redis was down is published and run after Redis is back")
        st, r = c.req("POST", "/vectors/mock", {"asset_id": "redis", "segment_id": "after"}, tok)
        check(c.wait_job(r["job_id"], tok)["status"] == "completed", "job after Redis restart")
    finally:
        c.cleanup()


def submit_many(c, tok, n, asset, acked, statuses, stop_evt=None, threads=8):
    """Submit n mock jobs from threads; acked[i] = job_id for every 200."""
    lock = threading.Lock()
    todo = list(range(n))

    def worker():
        while not (stop_evt and stop_evt.is_set()):
            with lock:
                if not todo:
                    return
                i = todo.pop(0)
            try:
                st, r = c.req("POST", "/vectors/mock", {"asset_id": asset, "segment_id": f"s{i}"}, tok, timeout=30)
            except OSError as e:
                st, r = -1, str(e)
            with lock:
                statuses.append(st)
                if st == 200:
                    acked[i] = r["job_id"]
                else:
                    todo.append(i)       # not accepted: submit again later
            if st != 200:
                time.sleep(0.2)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    [t.start() for t in ts]
    return ts


def points_of(c, asset):
    """(segment_id, points) of the org's points of asset, read from the vector
    store all processes share (the Qdrant-compatible heimdex)."""
    pts = c.qdrant.points({"must": [{"key": "org_id", "match": {"value": hx.ORG}},
                                    {"key": "asset_id", "match": {"value": asset}}]})
    segs = {}
    for p in pts:
        segs[p["payload"]["segment_id"]] = segs.get(p["payload"]["segment_id"], 0) + 1
    return sorted(segs.items())


def all_done_one_point_each(c, tok, acked, asset, n):
    for i, jid in acked.items():
        job = c.wait_job(jid, tok, timeout=180)
        check(job["status"] == "completed", "every accepted job completes", i, job)
    rows = points_of(c, asset)
    check(len(rows) == n and all(cnt == 1 for _, cnt in rows), "one point per job", len(rows))


def test_quick_actor_one_commit(binary):
    """mock_embedding is a quick actor: its worker peeks the ledger and writes
    start and outcome in one statement. The job's history is still the full
    one, and a stale delivery of a finished job (as a reclaim or a duplicate
    publish can bring) is acknowledged without running or recording again."""
    c = hx.Cluster(binary, apis=1, workers=1).start()
    try:
        tok = hx.make_token()
        st, r = c.req("POST", "/vectors/mock", {"asset_id": "quick", "segment_id": "s0"}, tok)
        check(st == 200, "create", st, r)
        jid = r["job_id"]
        check(c.wait_job(jid, tok)["status"] == "completed", "completed")
        ev = c.sql("SELECT prev_status, next_status, detail_json::json->>'stage', detail_json::json->>'progress'"
                   " FROM job_event WHERE job_id=? ORDER BY ts", (jid,))
        want = [("", "queued", "", ""), ("queued", "running", "initializing", "0"),
                ("running", "running", "generating", "30"), ("running", "running", "upserting", "60"),
                ("running", "succeeded", "completed", "100")]
        check([tuple("" if x is None else str(x) for x in e) for e in ev] == want, "queued, initializing/0, steps, completed/100", ev)
        row = c.sql("SELECT status, attempt, started_at IS NOT NULL, started_at <= finished_at, stage, progress"
                    " FROM job WHERE id=?", (jid,))[0]
        check(tuple(row) == ("succeeded", 1, 1, 1, "completed", 100), "ledger row", row)
        # a stale delivery of the finished job: not run, not recorded, acknowledged (XDELed)
        msg = json.dumps({"job_id": jid, "task": "mock_embedding", "outbox_id": 0,
                          "payload": {"args": [jid, hx.ORG, "quick", "s0"], "kwargs": {}}})
        cli = ["redis-cli", "-p", str(c.redis.port)]
        subprocess.run(cli + ["XADD", "heimdex:jobs", "*", "m", msg], check=True, stdout=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            pending = subprocess.run(cli + ["XLEN", "heimdex:jobs"], capture_output=True, text=True).stdout.strip()
            if pending == "0":
                break
            time.sleep(0.05)
        check(pending == "0", "the stale delivery was acknowledged", pending)
        ev2 = c.sql("SELECT count(*) FROM job_event WHERE job_id=?", (jid,))[0][0]
        check(int(ev2) == len(want), "no event for the stale delivery", ev2)
        row2 = c.sql("SELECT status, attempt FROM job WHERE id=?", (jid,))[0]
        check(tuple(row2) == ("succeeded", 1), "the job is untouched", row2)
        check(points_of(c, "quick") == [("s0", 1)], "one point", points_of(c, "quick"))
    finally:
        c.cleanup()


def test_redis_outage_during_run(binary):
    c = hx.Cluster(binary, apis=2, workers=2, env={"PROBE_CACHE_SEC": "1", "PROBE_COOLDOWN_SEC": "5"}).start()
    try:
        tok = hx.make_token()
        acked, statuses = {}, []
        ts = submit_many(c, tok, 1000, "redis-outage", acked, statuses)
        while len(acked) < 300:
            time.sleep(0.01)
        c.redis.stop()
        time.sleep(1.2)
        st, r = c.req("GET", "/readyz")
        check(st == 503 and r["deps"]["redis"]["ok"] is False, "readyz says redis is down", st, r["deps"]["redis"])
        time.sleep(10)
        c.redis.start()
        [t.join() for t in ts]
        check(len(acked) == 1000, "all 1000 accepted", len(acked))
        check(500 not in statuses, "never 500", sorted(set(statuses)))
        all_done_one_point_each(c, tok, acked, "redis-outage", 1000)
    finally:
        c.cleanup()


def test_pg_restart_during_run(binary):
    c = hx.Cluster(binary, apis=2, workers=2, env={"HEIMDEX_WORKER_BATCH": "8"}).start()
    try:
        tok = hx.make_token()
        acked, statuses = {}, []
        ts = submit_many(c, tok, 600, "pg-restart", acked, statuses)
        while len(acked) < 200:
            time.sleep(0.01)
        c.pg.stop("fast")
        time.sleep(3)
        st, r = c.req("POST", "/vectors/mock", {"asset_id": "pg-restart", "segment_id": "probe"}, tok)
        check(st == 503 and "unavailable" in r["detail"], "503 with a clear detail while PostgreSQL is down", st, r)
        st, r = c.req("GET", f"/jobs/{next(iter(acked.values()))}", token=tok)
        check(st == 503, "reads answer 503 too", st, r)
        c.pg.start()
        [t.join() for t in ts]
        check(500 not in statuses and -1 not in statuses, "never 500, never a dropped connection",
              sorted(set(statuses)))
        check(503 in statuses, "some creates met the outage", sorted(set(statuses)))
        st, r = c.req("POST", "/vectors/mock", {"asset_id": "pg-restart", "segment_id": "probe"}, tok)
        acked["probe"] = r["job_id"]
        all_done_one_point_each(c, tok, acked, "pg-restart", 601)
    finally:
        c.cleanup()


def test_readyz(binary):
    # a generous probe timeout: the first attempt must succeed on a loaded (or sanitizer) run;
    # a dead Redis is refused at once, so the failure checks below do not wait for it
    c = hx.Cluster(binary, apis=1, workers=1, env={"PROBE_CACHE_SEC": "1", "PROBE_COOLDOWN_SEC": "5",
                                                   "PROBE_RETRIES": "2", "PROBE_TIMEOUT_MS": "3000"}).start()
    try:
        st, r = c.req("GET", "/readyz")
        check(st == 200 and r["ready"] is True and r["summary"] == "ok", "ready", st, r)
        for dep in ("pg", "redis", "qdrant"):  # the cluster's vector store is the Qdrant-compatible heimdex
            d = r["deps"][dep]
            check(d["enabled"] is True and d["skipped"] is False and d["ok"] is True and d["attempts"] == 1
                  and d["reason"] is None and isinstance(d["latency_ms"], (int, float)), dep, d)
        check(r["deps"]["gcs"] == {"enabled": False, "skipped": True, "ok": None, "latency_ms": None,
                                   "attempts": 0, "reason": "disabled"}, "gcs", r["deps"]["gcs"])
        check(r["embedded"] == {}, "no embedded ledger, queue or vector store", r["embedded"])
        c.redis.stop()
        time.sleep(1.2)  # past PROBE_CACHE_SEC
        st, r = c.req("GET", "/readyz")
        d = r["deps"]["redis"]
        check(st == 503 and r["ready"] is False and d["ok"] is False and d["attempts"] == 3 and d["reason"],
              "redis down -> 503 after 3 attempts", st, r)
        c.redis.start()
        st, r = c.req("GET", "/readyz")
        check(st == 503, "a failure is cached for the cooldown", st, r["deps"]["redis"])
        time.sleep(5.2)
        st, r = c.req("GET", "/readyz")
        check(st == 200 and r["deps"]["redis"]["ok"] is True, "ready again after the cooldown", st, r)
    finally:
        c.cleanup()
    # embedded, with Qdrant enabled but unreachable
    s = hx.Server(binary, env={"ENABLE_QDRANT": "true", "QDRANT_URL": f"http://127.0.0.1:{hx.free_port()}",
                               "PROBE_RETRIES": "0"}).start()
    try:
        st, r = s.req("GET", "/readyz")
        d = r["deps"]["qdrant"]
        check(st == 503 and d["ok"] is False and d["attempts"] == 1 and d["reason"].startswith("exception:"),
              "qdrant down", st, d)
        check(r["embedded"]["ledger"]["ok"] is True and r["embedded"]["queue"]["ok"] is True, "embedded parts", r)
        check(r["deps"]["pg"]["reason"] == "disabled", "pg disabled in embedded mode", r)
    finally:
        s.cleanup()


def test_shared_rate_limit(binary):
    """With Redis configured, two API processes share one bucket per org."""
    c = hx.Cluster(binary, apis=2, workers=1, env={"HEIMDEX_RATE_LIMIT_EMBED": "0.5,4"}).start()
    try:
        tok = hx.make_token()
        sts = [c.apis[i % 2].req("POST", "/vectors/mock", {"asset_id": "rl", "segment_id": f"s{i}"}, tok)[0]
               for i in range(6)]
        check(sts[:4] == [200] * 4 and sts[4:] == [429, 429], "4 allowed across both APIs, then 429", sts)
        # search and delete-by-asset run on the shared Qdrant store of this topology
        st, r = c.apis[0].req("POST", "/vectors/search", {"query_text": "hello", "asset_id": "rl"}, tok)
        check(st == 200 and all(x["payload"]["asset_id"] == "rl" for x in r["results"]), "search on Qdrant", st, r)
        st, r = c.apis[1].req("DELETE", "/vectors/asset/rl", token=tok)
        check(st == 200 and r["asset_id"] == "rl" and isinstance(r["deleted"], int), "delete asset on Qdrant", st, r)
    finally:
        c.cleanup()


def main():
    a = hx.args()
    run = hx.Runner()
    run.run(test_worker_killed_midjob, a.bin)
    run.run(test_dependency_restarts, a.bin)
    run.run(test_quick_actor_one_commit, a.bin)
    run.run(test_redis_outage_during_run, a.bin)
    run.run(test_pg_restart_during_run, a.bin)
    run.run(test_readyz, a.bin)
    run.run(test_shared_rate_limit, a.bin)
    run.finish()


if __name__ == "__main__":
    main()
