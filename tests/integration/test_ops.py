"""Operations: /metrics moves exactly with known traffic (and its histograms are
consistent, its labels carry no ids), rate limits answer 429 with Retry-After
and recover, SIGTERM during hundreds of in-flight jobs loses none."""
import re
import threading
import time
import urllib.request

import hx
from hx import ORG2, check

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")


def scrape(s):
    with urllib.request.urlopen(s.base + "/metrics", timeout=10) as r:
        check(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), "content type")
        text = r.read().decode()
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    return text, samples


def test_metrics(binary):
    s = hx.Server(binary).start()
    try:
        tok = hx.make_token()
        jobs = [s.req("POST", "/vectors/mock", {"asset_id": "m", "segment_id": f"s{i}"}, tok)[1]["job_id"]
                for i in range(3)]
        for j in jobs:
            s.wait_job(j, tok)
        s.req("GET", "/nope", token=tok)
        s.req("POST", "/vectors/mock", {"asset_id": ""}, tok)
        # a worker counts a job right after its outcome commits, which is when
        # wait_job can already see it completed: let the counter catch up
        deadline = time.time() + 10
        text, m = scrape(s)
        while m.get('heimdex_jobs_total{type="mock_embedding",status="succeeded"}') != 3 and time.time() < deadline:
            time.sleep(0.05)
            text, m = scrape(s)
        check(m['heimdex_http_requests_total{route="/vectors/mock",method="POST",status="200"}'] == 3, "3 creates", m)
        check(m['heimdex_http_requests_total{route="/vectors/mock",method="POST",status="422"}'] == 1, "1 invalid")
        check(m['heimdex_http_requests_total{route="unmatched",method="GET",status="404"}'] == 1, "1 unmatched")
        check(m['heimdex_jobs_total{type="mock_embedding",status="succeeded"}'] == 3, "3 jobs succeeded")
        check(m['heimdex_embeddings_total{status="success",model="mock"}'] == 3, "3 embeddings")
        check(m["heimdex_vector_count"] == 3 and m["heimdex_outbox_unsent"] == 0 and m["heimdex_jobs_open"] == 0,
              "gauges", m)
        # 3 points: below the engine's index threshold, searched exactly, nothing waits for the graph
        check(m["heimdex_vector_unindexed"] == 0, "unindexed gauge", m)
        check(m["heimdex_process_resident_memory_bytes"] > 0 and m["heimdex_uptime_seconds"] > 0, "process")
        # the scrape itself is the one request in flight, and it left the queue before it was rendered
        check(m["heimdex_http_requests_in_flight"] == 1 and m["heimdex_http_requests_queued"] == 0, "http load gauges",
              {k: v for k, v in m.items() if "in_flight" in k or "queued" in k})
        # the heap as glibc sees it (a sanitizer's allocator is invisible to it: >= 0) and SQLite's own count
        check(m['heimdex_process_heap_bytes{state="in_use"}'] >= 0 and m['heimdex_process_heap_bytes{state="free"}'] >= 0
              and m["heimdex_sqlite_memory_bytes"] > 0, "memory gauges",
              {k: v for k, v in m.items() if "heap" in k or "sqlite" in k})
        # histograms: cumulative buckets never decrease and +Inf equals _count
        fams = {}
        for k, v in m.items():
            mm = re.match(r'(\w+)_bucket\{(.*?),?le="([^"]+)"\}$', k)
            if mm:
                fams.setdefault((mm.group(1), mm.group(2)), []).append((float("inf") if mm.group(3) == "+Inf"
                                                                         else float(mm.group(3)), v))
        check(fams, "histograms present")
        for (fam, labels), bs in fams.items():
            bs.sort()
            check(all(a[1] <= b[1] for a, b in zip(bs, bs[1:])), "monotonic buckets", fam, labels)
            count = m[f"{fam}_count{{{labels}}}"]
            check(bs[-1][1] == count, "+Inf == count", fam, labels, bs[-1], count)
        check(not UUID_RE.search(text), "no ids in labels")
        # a scrape counts as a request of its own route afterwards
        _, m2 = scrape(s)
        check(m2['heimdex_http_requests_total{route="/metrics",method="GET",status="200"}'] >= 1, "scrapes counted")
    finally:
        s.cleanup()


def test_rate_limit(binary):
    s = hx.Server(binary, env={"HEIMDEX_RATE_LIMIT_EMBED": "2,3"}).start()
    try:
        tok, other = hx.make_token(), hx.make_token(org_id=ORG2)
        sts = [s.req("POST", "/vectors/mock", {"asset_id": "r", "segment_id": f"s{i}"}, tok)[0] for i in range(3)]
        check(sts == [200, 200, 200], "burst of 3 allowed", sts)
        r = urllib.request.Request(s.base + "/vectors/mock", data=b'{"asset_id":"r","segment_id":"x"}', method="POST",
                                   headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
        try:
            urllib.request.urlopen(r, timeout=10)
            raise AssertionError("4th request was not limited")
        except urllib.error.HTTPError as e:
            body = e.read().decode()
            check(e.code == 429 and int(e.headers["Retry-After"]) >= 1 and "Rate limit exceeded" in body,
                  "429 with Retry-After", e.code, dict(e.headers), body)
        st, _ = s.req("POST", "/vectors/mock", {"asset_id": "r", "segment_id": "o"}, other)
        check(st == 200, "another org has its own bucket", st)
        st, _ = s.req("GET", "/healthz")
        check(st == 200, "other routes unaffected")
        time.sleep(1.1)  # two tokens back at 2/s
        st, _ = s.req("POST", "/vectors/mock", {"asset_id": "r", "segment_id": "later"}, tok)
        check(st == 200, "recovers after the window", st)
        _, m = scrape(s)
        check(m['heimdex_rate_limited_total{class="embed"}'] == 1, "429 counted", m)
    finally:
        s.cleanup()


def test_sigterm_inflight(binary):
    s = hx.Server(binary, env={"HEIMDEX_WORKERS": "1", "HEIMDEX_WORKER_BATCH": "1"}).start()
    tok = hx.make_token()
    ids = {}
    try:
        lock = threading.Lock()
        todo = list(range(500))

        def submit():
            while True:
                with lock:
                    if not todo:
                        return
                    i = todo.pop()
                st, r = s.req("POST", "/vectors/mock", {"asset_id": "term", "segment_id": f"s{i}"}, tok)
                check(st == 200, "create", st, r)
                with lock:
                    ids[i] = r["job_id"]

        ts = [threading.Thread(target=submit) for _ in range(8)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        open_jobs = s.sql("SELECT count(*) FROM job WHERE status IN ('queued','running')")[0][0]
        rc = s.stop()
        print(f"open jobs at SIGTERM: {open_jobs}", flush=True)
        check(open_jobs > 0, "jobs were in flight at SIGTERM", open_jobs)
        check(rc == 0, "SIGTERM exits 0", rc)
        s.start()
        for i, jid in ids.items():
            check(s.wait_job(jid, tok, timeout=120)["status"] == "completed", "completed after restart", i)
        n = s.sql("SELECT count(*) FROM job WHERE status='succeeded'")[0][0]
        check(n == 500, "all 500 succeeded", n)
    finally:
        s.cleanup()


def test_sigterm_interrupts_long_job(binary):
    s = hx.Server(binary, env={"HEIMDEX_MOCK_STAGE_MS": "30000,30000,30000"}).start()
    try:
        tok = hx.make_token()
        st, r = s.req("POST", "/jobs", {}, tok)
        deadline = time.time() + 20
        while s.req("GET", f"/jobs/{r['job_id']}", token=tok)[1]["status"] != "processing":
            check(time.time() < deadline, "job started")
            time.sleep(0.05)
        rc = s.stop()  # waits for exit; the 90 s job must not hold shutdown
        check(rc == 0, "SIGTERM exits 0 with a long job running", rc)
        s.env["HEIMDEX_MOCK_STAGE_MS"] = "10,10,10"
        s.start()
        job = s.wait_job(r["job_id"], tok)
        check(job["status"] == "completed", "the interrupted job is resumed", job)
        row = s.sql("SELECT attempt FROM job WHERE id=?", (r["job_id"],))[0]
        check(row[0] == 2, "resumed as a second attempt", row)
    finally:
        s.cleanup()


def main():
    a = hx.args()
    run = hx.Runner()
    run.run(test_metrics, a.bin)
    run.run(test_rate_limit, a.bin)
    run.run(test_sigterm_inflight, a.bin)
    run.run(test_sigterm_interrupts_long_job, a.bin)
    run.finish()


if __name__ == "__main__":
    main()
