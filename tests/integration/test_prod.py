"""The production topology's failure behaviour: a worker killed mid-job is
replaced by another that reclaims its delivery; PostgreSQL and Redis restarts
are survived without restarting heimdex; /readyz reports the real
dependencies."""
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


def main():
    a = hx.args()
    run = hx.Runner()
    run.run(test_worker_killed_midjob, a.bin)
    run.run(test_dependency_restarts, a.bin)
    run.finish()


if __name__ == "__main__":
    main()
