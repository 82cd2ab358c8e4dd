"""Tenant isolation matrix: org A writes jobs, points and assets; org B names
them in every way a client can (job id, point id, asset id, a filter on
org_id, search without a filter, a batch reusing A's ids) on every route.
No response to B ever carries A's data: every body B receives is scanned for
A's org id and for a marker word that only A's texts contain, and A's objects
are intact afterwards. Runs on the embedded default and, with --prod, on the
PostgreSQL + Redis topology."""
import json
import sys

import hx
from hx import ORG, ORG2, check

MARK = "zyxwvmarker"   # a word only org A's texts contain


class Leakcheck:
    """Wraps a server: every response org B gets is checked for A's data."""

    def __init__(self, s, tok):
        self.s, self.tok, self.n = s, tok, 0

    def req(self, method, path, body=None, **kw):
        st, r = self.s.req(method, path, body, self.tok, **kw)
        text = json.dumps(r).lower()
        check(ORG not in text and MARK not in text, "org B's response carries org A's data", method, path, st, r)
        self.n += 1
        return st, r


def seed_org_a(s, tok):
    objs = {}
    st, r = s.req("POST", "/jobs", {}, tok)
    check(st == 200, "A: job", st, r)
    objs["job"] = r["job_id"]
    st, r = s.req("POST", "/vectors/mock", {"asset_id": "a-doc", "segment_id": "m0"}, tok)
    check(st == 200, "A: mock", st, r)
    s.wait_job(r["job_id"], tok)
    objs["mock_point"] = hx.point_id(ORG, "a-doc", "m0")
    st, r = s.req("POST", "/vectors/embed", {"asset_id": "a-doc", "segment_id": "e0",
                                             "text": f"secret {MARK} quarterly numbers"}, tok)
    check(st == 200, "A: embed", st, r)
    j = s.wait_job(r["job_id"], tok)
    check(j["status"] == "completed", "A: embed done", j)
    objs["embed_point"] = j["result"]["point_id"]
    objs["embed_job"] = r["job_id"]
    segs = [{"segment_id": f"b{i}", "text": f"{MARK} batch text number {i}"} for i in range(5)]
    st, r = s.req("POST", "/vectors/embed/batch", {"asset_id": "a-batch", "segments": segs}, tok)
    check(st == 200, "A: batch", st, r)
    j = s.wait_job(r["job_id"], tok)
    check(j["status"] == "completed" and j["result"]["segments_embedded"] == 5, "A: batch done", j)
    objs["batch_model"] = (j["result"]["model"], j["result"]["model_ver"])
    st, r = s.req("POST", "/assets?asset_id=a-file", token=tok, raw=f"Private {MARK} memo.\n\nSecond part.".encode(),
                  headers={"Content-Type": "text/plain"})
    check(st == 200, "A: upload", st, r)
    check(s.wait_job(r["job_id"], tok)["status"] == "completed", "A: upload done")
    objs["asset_job"] = r["job_id"]
    return objs


def a_intact(s, tok, objs):
    for k in ("mock_point", "embed_point"):
        st, p = s.req("GET", f"/vectors/{objs[k]}", token=tok)
        check(st == 200 and p["payload"]["org_id"] == ORG, "A's point intact", k, st)
    m, v = objs["batch_model"]
    for i in range(5):
        st, p = s.req("GET", f"/vectors/{hx.point_id(ORG, 'a-batch', f'b{i}', m, v)}", token=tok)
        check(st == 200, "A's batch point intact", i, st)
    st, r = s.req("POST", "/vectors/search", {"query_text": f"{MARK} batch", "limit": 20, "mode": "sparse"}, tok)
    check(st == 200 and len(r["results"]) >= 6, "A still finds its own points", st, r)


def test_matrix(s, search=True):
    ta, tb = hx.make_token(org_id=ORG), hx.make_token(org_id=ORG2)
    objs = seed_org_a(s, ta)
    b = Leakcheck(s, tb)
    # assets by id
    st, r = b.req("GET", "/assets/a-file")
    check(st == 404, "B reads A's asset", st, r)
    # jobs by id
    for k in ("job", "embed_job", "asset_job"):
        st, r = b.req("GET", f"/jobs/{objs[k]}")
        check(st == 403 and r == {"detail": "Access denied"}, "B reads A's job", k, st, r)
    # points by id: read and delete
    for k in ("mock_point", "embed_point"):
        st, r = b.req("GET", f"/vectors/{objs[k]}")
        check(st == 404, "B reads A's point", k, st, r)
        st, r = b.req("DELETE", f"/vectors/{objs[k]}")
        check(st == 404, "B deletes A's point", k, st, r)
    # the same asset and segment ids written by B are B's own points
    st, r = b.req("POST", "/vectors/mock", {"asset_id": "a-doc", "segment_id": "m0"})
    check(st == 200, "B: mock with A's ids", st, r)
    j = s.wait_job(r["job_id"], tb)
    check(j["result"]["point_id"] == hx.point_id(ORG2, "a-doc", "m0") != objs["mock_point"], "B's own point id", j)
    segs = [{"segment_id": f"b{i}", "text": f"other org text {i}"} for i in range(5)]
    st, r = b.req("POST", "/vectors/embed/batch", {"asset_id": "a-batch", "segments": segs})
    check(st == 200, "B: batch with A's ids", st, r)
    check(s.wait_job(r["job_id"], tb)["status"] == "completed", "B: batch done")
    if search:
        # search: without a filter, with a filter naming A's org, by A's asset, by A's exact text
        bodies = [{"query_text": f"{MARK} secret quarterly", "limit": 100},
                  {"query_text": f"{MARK}", "limit": 100, "mode": "sparse"},
                  {"query_text": f"{MARK} batch", "limit": 100, "mode": "hybrid"},
                  {"query_text": "text", "limit": 100, "filter": {"must": [{"key": "org_id", "match": {"value": ORG}}]}},
                  {"query_text": "text", "limit": 100,
                   "filter": {"should": [{"key": "org_id", "match": {"value": ORG}}, {"key": "org_id", "match": {"value": ORG2}}]}},
                  {"query_text": "text", "limit": 100, "asset_id": "a-doc"},
                  {"query_text": "text", "limit": 100, "filter": {"must_not": [{"key": "org_id", "match": {"value": ORG2}}]}},
                  {"query_text": "text", "limit": 100, "filter": {"must": [{"has_id": [objs["embed_point"], objs["mock_point"]]}]}}]
        for body in bodies:
            st, r = b.req("POST", "/vectors/search", body)
            check(st == 200, "B search answered", body, st, r)
            check(all(x["payload"]["org_id"] == ORG2 for x in r["results"]), "B's search only returns B's points", body, r)
        # deleting A's asset by id removes nothing of A's
        st, r = b.req("DELETE", "/vectors/asset/a-batch")
        check(st == 200 and r["deleted"] == 5, "B deletes only its own copy of the asset", st, r)
        st, r = b.req("DELETE", "/vectors/asset/a-doc")
        check(st == 200 and r["deleted"] == 1, "B deletes only its own a-doc point", st, r)
        st, r = b.req("DELETE", "/vectors/asset/a-file")
        check(st == 200 and r["deleted"] == 0, "B deletes nothing of A's uploaded asset", st, r)
        st, r = b.req("POST", "/assets?asset_id=a-file", raw=b"B's own file.", headers={"Content-Type": "text/plain"})
        check(st == 200, "B uploads under A's asset id", st, r)
        check(s.wait_job(r["job_id"], tb)["status"] == "completed", "B: upload done")
        st, r = b.req("GET", "/assets/a-file")
        check(st == 200 and r.get("job_id") != objs["asset_job"], "B sees only its own asset record", st, r)
    a_intact(s, ta, objs) if search else None
    st, r = s.req("GET", "/assets/a-file", token=ta)
    check(st == 200 and r["job_id"] == objs["asset_job"], "A's asset record intact", st, r)
    print(f"org B made {b.n} requests, none carried org A's data", flush=True)


def main():
    prod = "--prod" in sys.argv
    if prod:
        sys.argv.remove("--prod")
    a = hx.args()
    run = hx.Runner()
    s = (hx.Cluster(a.bin) if prod else hx.Server(a.bin)).start()
    try:
        run.run(test_matrix, s)
    finally:
        s.cleanup()
    run.finish()


if __name__ == "__main__":
    main()
