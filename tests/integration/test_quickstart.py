"""End-to-end: the original quick start against the real binary, plus auth,
idempotency (also racing), tenant isolation, deletes, process_mock and retries."""
import json
import os
import subprocess
import sqlite3
import threading

import hx
import numpy_ref
from hx import ORG, ORG2, check

GOLDEN_PID = "753ee532-60b1-4aa4-dc7d-4fb151e78483"


def test_reference_matches_golden():
    v = numpy_ref.random_f32(0x753EE532, 384)
    check([numpy_ref.f32_bits(x) for x in v[:5]] == [0x3F6B3FEB, 0x3E69C2A2, 0x3F6AD81A, 0x3F206792, 0x3F32FC31],
          "reference first bits")
    check(v[383] == 0.32658514380455017, "reference v[383]", v[383])
    check(abs(sum(v) - 193.13753586623352) < 1e-9, "reference sum", sum(v))


def test_quickstart(s):
    tok = hx.make_token()
    st, r = s.req("POST", "/vectors/mock", {"asset_id": "final-test-doc", "segment_id": "final-chunk-0"}, tok)
    check(st == 200, "create", st, r)
    check(set(r) == {"job_id", "asset_id", "segment_id"} and r["asset_id"] == "final-test-doc", "create shape", r)
    job = s.wait_job(r["job_id"], tok)
    check(job["status"] == "completed" and job["progress"] == 100, "job completed", job)
    check(set(job) == {"id", "status", "stage", "progress", "result", "error", "created_at", "updated_at"}, "job shape", job)
    check(job["result"]["point_id"] == GOLDEN_PID, "golden point id", job["result"])
    st, p = s.req("GET", f"/vectors/{GOLDEN_PID}", token=tok)
    check(st == 200, "get point", st, p)
    # the collection is Cosine: the store keeps the vector normalised, as Qdrant does
    want = numpy_ref.normalized_f32(numpy_ref.random_f32(0x753EE532, 384))
    check(numpy_ref.close_f32(p["vector"], want), "vector = normalised reference mock vector")
    check(p["payload"]["org_id"] == ORG and p["payload"]["asset_id"] == "final-test-doc"
          and p["payload"]["segment_id"] == "final-chunk-0" and p["payload"]["model"] == "mock"
          and p["payload"]["model_ver"] == "v1", "payload", p["payload"])
    st, r2 = s.req("POST", "/vectors/mock", {"asset_id": "final-test-doc", "segment_id": "final-chunk-0"}, tok)
    check(st == 200 and r2["job_id"] == r["job_id"], "duplicate returns same job", r, r2)
    # an upper-case spelling of the same org is the same org
    up = hx.make_token(org_id=ORG.upper())
    st, j = s.req("GET", f"/jobs/{r['job_id'].upper()}", token=up)
    check(st == 200 and j["id"] == r["job_id"], "upper-case org and job id", st, j)
    st, p2 = s.req("GET", f"/vectors/{GOLDEN_PID}", token=up)
    check(st == 200, "upper-case org sees its point", st)
    # another org
    other = hx.make_token(org_id=ORG2)
    st, j = s.req("GET", f"/jobs/{r['job_id']}", token=other)
    check(st == 403 and j == {"detail": "Access denied"}, "other org job -> 403", st, j)
    st, j = s.req("GET", f"/vectors/{GOLDEN_PID}", token=other)
    check(st == 404, "other org point -> 404", st, j)
    st, j = s.req("DELETE", f"/vectors/{GOLDEN_PID}", token=other)
    check(st == 404, "other org delete -> 404", st, j)
    st, j = s.req("GET", "/jobs/00000000-0000-4000-8000-000000000000", token=tok)
    check(st == 404 and j == {"detail": "Job not found"}, "unknown job", st, j)


def test_racing_duplicates(s):
    tok = hx.make_token()
    results, errors = [], []
    barrier = threading.Barrier(16)

    def go():
        barrier.wait()
        try:
            results.append(s.req("POST", "/vectors/mock", {"asset_id": "race", "segment_id": "s0"}, tok))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=go) for _ in range(16)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    check(not errors, "no transport errors", errors)
    check(all(st == 200 for st, _ in results), "all 200", [st for st, _ in results])
    ids = {r["job_id"] for _, r in results}
    check(len(ids) == 1, "one job for 16 racing duplicates", ids)
    n = s.sql("SELECT count(*) FROM job WHERE type='mock_embedding' AND requested_by='user-1' AND id=?",
              (ids.pop(),))[0][0]
    check(n == 1, "one ledger row", n)


def test_auth(s):
    st, r = s.req("POST", "/vectors/mock", {"asset_id": "a", "segment_id": "b"})
    check(st == 403 and r == {"detail": "Not authenticated"}, "no header", st, r)
    st, r = s.req("GET", "/jobs/00000000-0000-4000-8000-000000000000", headers={"Authorization": "Basic abc"})
    check(st == 403 and r == {"detail": "Invalid authentication credentials"}, "wrong scheme", st, r)
    good = hx.make_token()
    h, p, sig = good.split(".")
    tampered = h + "." + hx.b64u(b'{"sub":"user-1","org_id":"' + ORG2.encode() + b'","exp":9999999999}') + "." + sig
    cases = [
        (tampered, "Invalid token: Signature verification failed"),
        (hx.make_token(secret="wrong-secret"), "Invalid token: Signature verification failed"),
        (hx.make_token(exp=1), "Token has expired"),
        (hx.make_token(alg="none"), "Invalid token: The specified alg value is not allowed"),
        (hx.make_token(header={"alg": "HS512", "typ": "JWT"}), "Invalid token: The specified alg value is not allowed"),
        ("abc", "Invalid token: Not enough segments"),
        (hx.make_token({"org_id": ORG, "exp": 9999999999}), "Missing sub claim in token"),
        (hx.make_token({"sub": "u", "exp": 9999999999}), "Missing org_id claim in token (required for tenant isolation)"),
        (hx.make_token(exp="soon"), "Invalid token: Expiration Time claim (exp) must be an integer."),
    ]
    for tok, detail in cases:
        st, r = s.req("GET", "/jobs/00000000-0000-4000-8000-000000000000", token=tok)
        check(st == 401 and r == {"detail": detail}, "401 " + detail, st, r)
    # org_id lookup order: app_metadata.org_id, then the namespaced claim, then org_id
    st, r = s.req("POST", "/vectors/mock", {"asset_id": "order", "segment_id": "s"}, hx.make_token())
    jid = r["job_id"]
    tok = hx.make_token({"sub": "u", "exp": 9999999999, "app_metadata": {"org_id": ORG},
                         "https://heimdex.io/org_id": ORG2, "org_id": ORG2})
    check(s.req("GET", f"/jobs/{jid}", token=tok)[0] == 200, "app_metadata.org_id wins")
    tok = hx.make_token({"sub": "u", "exp": 9999999999, "https://heimdex.io/org_id": ORG, "org_id": ORG2})
    check(s.req("GET", f"/jobs/{jid}", token=tok)[0] == 200, "namespaced claim before org_id")
    tok = hx.make_token({"sub": "u", "exp": 9999999999, "https://heimdex.io/org_id": ORG2, "org_id": ORG})
    check(s.req("GET", f"/jobs/{jid}", token=tok)[0] == 403, "namespaced claim is used")


def test_delete_point(s):
    tok = hx.make_token()
    st, r = s.req("POST", "/vectors/mock", {"asset_id": "del", "segment_id": "s0"}, tok)
    job = s.wait_job(r["job_id"], tok)
    pid = job["result"]["point_id"]
    check(pid == hx.point_id(ORG, "del", "s0"), "point id formula", pid)
    st, r = s.req("DELETE", f"/vectors/{pid}", token=tok)
    check(st == 200 and r == {"point_id": pid, "deleted": True}, "delete", st, r)
    check(s.req("GET", f"/vectors/{pid}", token=tok)[0] == 404, "gone")
    check(s.req("DELETE", f"/vectors/{pid}", token=tok)[0] == 404, "second delete 404")


def test_process_mock(s):
    tok = hx.make_token()
    st, r = s.req("POST", "/jobs", {}, tok)
    check(st == 200 and set(r) == {"job_id"}, "create", st, r)
    job = s.wait_job(r["job_id"], tok)
    check(job["status"] == "completed" and job["stage"] == "completed", "completed", job)
    res = job["result"]
    check(res["stages_completed"] == ["extracting", "analyzing", "indexing"], "stages", res)
    check(abs(res["total_duration_seconds"] - 0.06) < 1e-9, "duration", res)
    ev = s.sql("SELECT prev_status, next_status, detail_json FROM job_event WHERE job_id=? ORDER BY ts",
               (r["job_id"],))
    check(ev[0][:2] == (None, "queued") and ev[-1][1] == "succeeded", "events", ev)
    stages = [json.loads(e[2]).get("stage") for e in ev if e[2]]
    check("analyzing" in stages and "initializing" in stages, "stages recorded as events", stages)
    row = s.sql("SELECT status, attempt, finished_at IS NOT NULL FROM job WHERE id=?", (r["job_id"],))[0]
    check(tuple(row) == ("succeeded", 1, 1), "ledger row", row)
    check(s.sql("SELECT count(*) FROM outbox WHERE job_id=?", (r["job_id"],))[0][0] == 0,
          "outbox row removed once the job ended")
    # same request again: same job (job key over {"type":"mock_process"})
    st, r2 = s.req("POST", "/jobs", {"type": "mock_process"}, tok)
    check(r2["job_id"] == r["job_id"], "idempotent", r, r2)
    st, r3 = s.req("POST", "/jobs", {"type": "other"}, tok)
    check(st == 422 and r3["detail"][0]["type"] == "literal_error", "unknown type", st, r3)


def test_retries_then_failed(s):
    tok = hx.make_token()
    st, r = s.req("POST", "/jobs", {"fail_at_stage": "analyzing"}, tok)
    check(st == 200, "create", st, r)
    job = s.wait_job(r["job_id"], tok)
    check(job["status"] == "failed" and job["error"] == "Deterministic failure at stage: analyzing", "failed", job)
    row = s.sql("SELECT status, attempt, max_attempts, last_error_message FROM job WHERE id=?", (r["job_id"],))[0]
    check(row[0] == "failed" and row[1] == 4 and row[2] == 4, "3 retries then failed", row)
    retries = s.sql("SELECT count(*) FROM job_event WHERE job_id=? AND next_status='queued' AND prev_status='running'",
                    (r["job_id"],))[0][0]
    check(retries == 3, "three retry events", retries)


def test_bad_messages_fail_without_retry(binary):
    """Messages that can never succeed (bad args, unknown task) fail on the first
    attempt, and rows left unsent in the outbox before a start are delivered."""
    s = hx.Server(binary)
    try:
        subprocess.run([binary, "migrate"], env=s.env, check=True, stdout=subprocess.DEVNULL)
        db = sqlite3.connect(os.path.join(s.data, "ledger.db"))
        for jid, task, args in (("11111111-1111-4111-8111-111111111111", "mock_embedding", ["x", ORG]),
                                ("22222222-2222-4222-8222-222222222222", "no_such_task", ["y"])):
            db.execute("INSERT INTO job(id, org_id, type, status, attempt, max_attempts, job_key, created_at, updated_at)"
                       " VALUES (?,?,?,'queued',0,4,?,0,0)", (jid, ORG, task, jid))
            db.execute("INSERT INTO outbox(job_id, task_name, payload, created_at) VALUES (?,?,?,0)",
                       (jid, task, json.dumps({"args": [jid] + args[1:]})))
        db.commit()
        db.close()
        s.start()
        tok = hx.make_token()
        j1 = s.wait_job("11111111-1111-4111-8111-111111111111", tok)
        check(j1["status"] == "failed" and "Invalid mock_embedding message" in j1["error"], "bad args", j1)
        j2 = s.wait_job("22222222-2222-4222-8222-222222222222", tok)
        check(j2["status"] == "failed" and j2["error"] == "Unknown task: no_such_task", "unknown task", j2)
        db = sqlite3.connect(os.path.join(s.data, "ledger.db"))
        att = [r[0] for r in db.execute("SELECT attempt FROM job ORDER BY id")]
        check(att == [1, 1], "no retries", att)
    finally:
        s.cleanup()


def main():
    import sys
    prod = "--prod" in sys.argv
    if prod:
        sys.argv.remove("--prod")
    a = hx.args()
    run = hx.Runner()
    run.run(test_reference_matches_golden)
    # embedded: one process; --prod: PostgreSQL + Redis, two API and two worker processes
    s = (hx.Cluster(a.bin) if prod else hx.Server(a.bin)).start()
    try:
        for t in (test_quickstart, test_racing_duplicates, test_auth, test_delete_point, test_process_mock,
                  test_retries_then_failed):
            run.run(t, s)
        rc = s.stop()

        def test_sigterm_exits_0():
            check(rc == 0, "SIGTERM exits 0", rc)
        run.run(test_sigterm_exits_0)
    finally:
        s.cleanup()
    if not prod:
        run.run(test_bad_messages_fail_without_retry, a.bin)
    run.finish()


if __name__ == "__main__":
    main()
