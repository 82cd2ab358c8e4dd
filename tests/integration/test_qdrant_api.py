"""The Qdrant-compatible API of `heimdex serve` (HEIMDEX_QDRANT_LISTEN) over real
HTTP. EVERY response body is validated against Qdrant v1.19.0's published
schema (qdrant_schema.py, ../shared/qdrant/openapi.json) before any test looks
at it; scores and rankings are checked against golden values computed here in
Python (brute-force cosine / dot / euclid in float64, Qdrant's RRF with k = 2,
DBSF with mean +/- 3 sample standard deviations)."""
import json
import math
import os
import random
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hx  # noqa: E402
from hx import check  # noqa: E402
import qdrant_schema  # noqa: E402

VALIDATED = {"count": 0, "unschemad": 0}


class QServer:
    """A heimdex with the Qdrant-compatible API on its own port."""

    def __init__(self, binary, env=None):
        self.qport = hx.free_port()
        e = {"HEIMDEX_QDRANT_LISTEN": f"127.0.0.1:{self.qport}"}
        e.update(env or {})
        self.s = hx.Server(binary, env=e)
        self.base = f"http://127.0.0.1:{self.qport}"

    def start(self):
        self.s.start()
        return self

    def raw(self, method, path, body=None, headers=None, data=None):
        if data is None and body is not None:
            data = json.dumps(body).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        r = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read()

    def req(self, method, path, body=None, headers=None, data=None, schema=True):
        """(status, parsed body); the body is validated against the schema of
        the documented operation and status."""
        st, ctype, payload = self.raw(method, path, body, headers, data)
        text_plain = ctype.startswith("text/plain")
        parsed = payload.decode() if text_plain else json.loads(payload)
        tpl = qdrant_schema.match_path(path.split("?")[0], method)
        if tpl is None or not schema:
            VALIDATED["unschemad"] += 1
        else:
            errs = qdrant_schema.validate_response(tpl, method, st, parsed)
            check(not errs, f"{method} {path} -> {st}: response violates the schema", errs[:5], parsed)
            if st >= 400:
                check(set(parsed) == {"status", "time"} and isinstance(parsed["status"].get("error"), str),
                      "error shape", parsed)
            VALIDATED["count"] += 1
        return st, parsed

    def ok(self, method, path, body=None):
        st, r = self.req(method, path, body)
        check(st == 200, f"{method} {path}", st, r)
        check(r["status"] == "ok" and isinstance(r["time"], float), "envelope", r)
        return r["result"]

    def stop(self):
        """SIGTERM; the exit code must be 0 (under ASan a leak makes it non-zero)."""
        rc = self.s.stop()
        tail = self.s.tail()
        self.s.cleanup()
        check(rc == 0, "server exit code", rc, tail[-1500:])


# ---- independent golden implementations ----

def norm(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v] if n else v


def cosine(a, b):
    return sum(x * y for x, y in zip(norm(a), norm(b)))


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def euclid(a, b):
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))


def ranked(points, score, query, small_better=False, keep=None, limit=10):
    cand = [(score(p["vector"], query), p["id"]) for p in points if keep is None or keep(p)]
    cand.sort(key=lambda t: (t[0] if small_better else -t[0], t[1]))
    return cand[:limit]


def rrf(lists, k=2):
    acc = {}
    for lst in lists:
        for pos, (_, pid) in enumerate(lst):
            acc[pid] = acc.get(pid, 0.0) + 1.0 / (pos + k)
    return sorted(((s, pid) for pid, s in acc.items()), key=lambda t: (-t[0], t[1]))


def dbsf(lists):
    acc = {}
    for lst in lists:
        sc = [s for s, _ in lst]
        if len(sc) >= 2:
            mean = sum(sc) / len(sc)
            sd = math.sqrt(sum((s - mean) ** 2 for s in sc) / (len(sc) - 1))
            lo, hi = mean - 3 * sd, mean + 3 * sd
        for s, pid in lst:
            n = 0.5 if len(sc) < 2 or hi == lo else (s - lo) / (hi - lo)
            acc[pid] = acc.get(pid, 0.0) + n
    return sorted(((s, pid) for pid, s in acc.items()), key=lambda t: (-t[0], t[1]))


def same_ranking(got, want, what, tol=1e-4):
    gids = [p["id"] for p in got]
    wids = [pid for _, pid in want]
    check(gids == wids, what + ": ids", gids, wids)
    for p, (s, _) in zip(got, want):
        check(abs(p["score"] - s) <= tol * max(1.0, abs(s)), what + ": score", p["id"], p["score"], s)


CITIES = ["Berlin", "London", "Paris"]


def dataset(n=60, dim=8, seed=7):
    rnd = random.Random(seed)
    pts = []
    for i in range(n):
        pts.append({"id": i + 1, "vector": [rnd.uniform(-1, 1) for _ in range(dim)],
                    "payload": {"city": CITIES[i % 3], "n": i, "tags": ["a", "b"] if i % 2 else ["c"]}})
    return pts


# ---- tests ----

def test_service(q):
    st, v = q.req("GET", "/")
    check(st == 200 and v["version"] == "1.19.0" and "qdrant" in v["title"], "version info", v)
    for p, txt in (("/healthz", "healthz check passed"), ("/livez", "livez check passed"), ("/readyz", "all shards are ready")):
        st, body = q.req("GET", p)
        check(st == 200 and body == txt, p, st, body)


def test_layer_errors(q):
    """404 / 405 of the HTTP layer come in Qdrant's error shape too."""
    for method, path, want in (("GET", "/no/such/route", 404), ("PATCH", "/collections", 405)):
        st, r = q.req(method, path, schema=False)
        check(st == want and qdrant_schema.validate("ErrorResponse", r) == [] and "error" in r["status"], path, st, r)


def test_collections(q):
    body = {"vectors": {"size": 8, "distance": "Cosine", "on_disk": True},
            "sparse_vectors": {"text": {"modifier": "idf"}},
            "hnsw_config": {"m": 12, "ef_construct": 64},
            "optimizers_config": {"default_segment_number": 2}, "on_disk_payload": True}
    check(q.ok("PUT", "/collections/c1", body) is True, "create")
    st, r = q.req("PUT", "/collections/c1", body)
    check(st == 409 and "already exists" in r["status"]["error"], "create twice", st, r)
    info = q.ok("GET", "/collections/c1")
    p = info["config"]["params"]
    check(p["vectors"]["size"] == 8 and p["vectors"]["distance"] == "Cosine", "vectors params", p)
    check(p["sparse_vectors"] == {"text": {"modifier": "idf"}}, "sparse params", p)
    check(info["config"]["hnsw_config"]["m"] == 12 and info["config"]["hnsw_config"]["ef_construct"] == 64, "hnsw", info)
    check(info["points_count"] == 0 and info["status"] == "green", "empty", info)
    named = {"vectors": {"img": {"size": 3, "distance": "Euclid", "quantization_config": {"scalar": {"type": "int8"}}},
                         "txt": {"size": 2, "distance": "Dot"}},
             "quantization_config": {"binary": {}}}
    check(q.ok("PUT", "/collections/c2", named) is True, "create named")
    v = q.ok("GET", "/collections/c2")["config"]["params"]["vectors"]
    check(set(v) == {"img", "txt"} and v["img"]["distance"] == "Euclid" and v["txt"]["size"] == 2, "named", v)
    check("scalar" in v["img"]["quantization_config"] and "binary" in v["txt"]["quantization_config"], "quant", v)
    check(q.ok("GET", "/collections/c1/exists") == {"exists": True}, "exists")
    check(q.ok("GET", "/collections/nope/exists") == {"exists": False}, "not exists")
    names = {c["name"] for c in q.ok("GET", "/collections")["collections"]}
    check({"c1", "c2"} <= names, "list", names)
    check(q.ok("DELETE", "/collections/c2") is True, "delete")
    check(q.ok("DELETE", "/collections/c2") is False, "delete again")
    st, r = q.req("GET", "/collections/c2")
    check(st == 404 and r["status"]["error"] == "Not found: Collection `c2` doesn't exist!", "404", st, r)
    for bad, why in (({"vectors": {"size": 0, "distance": "Cosine"}}, "size 0"),
                     ({"vectors": {"size": 4, "distance": "cosine"}}, "distance case"),
                     ({"vectors": {"size": 4, "distance": "Cosine"}, "quantization_config": {"product": {"compression": "x4"}}},
                      "product quantization"),
                     ({}, "no vectors")):
        st, r = q.req("PUT", "/collections/bad", bad)
        check(st == 400, why, st, r)
    st, r = q.req("PUT", "/collections/c3", data=b"{not json")
    check(st == 400 and r["status"]["error"].startswith("Format error in JSON body"), "bad json", st, r)


def load(q, name="pts", dim=8):
    q.ok("PUT", f"/collections/{name}", {"vectors": {"size": dim, "distance": "Cosine"},
                                         "sparse_vectors": {"kw": {}}})
    pts = dataset(dim=dim)
    # half as a points list, half as a batch
    half = len(pts) // 2
    r = q.ok("PUT", f"/collections/{name}/points?wait=true",
             {"points": [{"id": p["id"], "vector": p["vector"], "payload": p["payload"]} for p in pts[:half]]})
    check(r["status"] == "completed" and isinstance(r["operation_id"], int), "upsert result", r)
    q.ok("PUT", f"/collections/{name}/points",
         {"batch": {"ids": [p["id"] for p in pts[half:]], "vectors": {"": [p["vector"] for p in pts[half:]]},
                    "payloads": [p["payload"] for p in pts[half:]]}})
    return pts


def test_points(q):
    pts = load(q)
    r = q.ok("PUT", "/collections/pts/index", {"field_name": "city", "field_schema": "keyword"})
    check(r["status"] == "completed", "index", r)
    q.ok("PUT", "/collections/pts/index", {"field_name": "n", "field_schema": {"type": "integer", "is_tenant": False}})
    schema = q.ok("GET", "/collections/pts")["payload_schema"]
    check(schema["city"]["data_type"] == "keyword" and schema["n"]["data_type"] == "integer", "payload schema", schema)
    q.ok("DELETE", "/collections/pts/index/n")
    check("n" not in q.ok("GET", "/collections/pts")["payload_schema"], "index dropped")
    check(q.ok("POST", "/collections/pts/points/count", {"exact": True})["count"] == 60, "count")
    c = q.ok("POST", "/collections/pts/points/count", {"filter": {"must": [{"key": "city", "match": {"value": "Paris"}}]}})
    check(c["count"] == 20, "count filtered", c)
    recs = q.ok("POST", "/collections/pts/points", {"ids": [3, 999, 1], "with_vector": True})
    check([x["id"] for x in recs] == [3, 1], "get by ids skips missing", recs)
    check(recs[0]["payload"] == pts[2]["payload"], "payload", recs[0])
    want = norm(pts[2]["vector"])
    check(all(abs(a - b) < 1e-6 for a, b in zip(recs[0]["vector"], want)), "vector (stored normalised, as Qdrant)", recs[0])
    recs = q.ok("POST", "/collections/pts/points", {"ids": [3], "with_payload": ["city"]})
    check(recs == [{"id": 3, "payload": {"city": "Paris"}, "vector": None}], "with_payload include", recs)
    recs = q.ok("POST", "/collections/pts/points", {"ids": [3], "with_payload": {"exclude": ["tags", "n"]}})
    check(recs[0]["payload"] == {"city": "Paris"}, "with_payload exclude", recs)
    one = q.ok("GET", "/collections/pts/points/5")
    check(one["id"] == 5 and one["payload"]["n"] == 4 and len(one["vector"]) == 8, "get one", one)
    st, r = q.req("GET", "/collections/pts/points/12345")
    check(st == 404 and r["status"]["error"] == "Not found: No point with id 12345 found", "missing point", st, r)
    # scroll in id order, pages chained by next_page_offset
    seen, offset = [], None
    while True:
        body = {"limit": 25, "with_payload": False}
        if offset is not None:
            body["offset"] = offset
        page = q.ok("POST", "/collections/pts/points/scroll", body)
        seen += [p["id"] for p in page["points"]]
        check(all(p["payload"] is None for p in page["points"]), "no payload", page["points"][:1])
        offset = page["next_page_offset"]
        if offset is None:
            break
    check(seen == list(range(1, 61)), "scroll all", seen)
    page = q.ok("POST", "/collections/pts/points/scroll",
                {"filter": {"must": [{"key": "city", "match": {"value": "London"}}], "must_not": [{"key": "n", "range": {"gte": 30}}]},
                 "limit": 100})
    check([p["id"] for p in page["points"]] == [p["id"] for p in pts if p["payload"]["city"] == "London" and p["payload"]["n"] < 30],
          "scroll filter", page)
    check(page["points"][0]["payload"]["city"] == "London", "scroll payload by default", page["points"][0])
    # payload operations
    q.ok("POST", "/collections/pts/points/payload", {"payload": {"color": "red"}, "points": [1, 2]})
    check(q.ok("GET", "/collections/pts/points/1")["payload"] == dict(pts[0]["payload"], color="red"), "set payload")
    q.ok("PUT", "/collections/pts/points/payload", {"payload": {"only": 1}, "points": [2]})
    check(q.ok("GET", "/collections/pts/points/2")["payload"] == {"only": 1}, "overwrite payload")
    q.ok("POST", "/collections/pts/points/payload/delete", {"keys": ["color", "tags"], "points": [1]})
    check(q.ok("GET", "/collections/pts/points/1")["payload"] == {"city": "Berlin", "n": 0}, "delete keys")
    q.ok("POST", "/collections/pts/points/payload", {"payload": {"flag": True},
                                                    "filter": {"must": [{"key": "city", "match": {"value": "Paris"}}]}})
    c = q.ok("POST", "/collections/pts/points/count", {"filter": {"must": [{"key": "flag", "match": {"value": True}}]}})
    check(c["count"] == 20, "set payload by filter", c)
    q.ok("POST", "/collections/pts/points/payload/clear", {"points": [2]})
    check(q.ok("GET", "/collections/pts/points/2")["payload"] == {}, "clear payload")
    # deletes
    q.ok("POST", "/collections/pts/points/delete", {"points": [1, 2]})
    q.ok("POST", "/collections/pts/points/delete", {"filter": {"must": [{"key": "city", "match": {"value": "Paris"}}]}})
    check(q.ok("POST", "/collections/pts/points/count", {})["count"] == 60 - 2 - 20, "after deletes")
    st, r = q.req("POST", "/collections/pts/points/delete", {})
    check(st == 400, "delete needs points or filter", st, r)
    st, r = q.req("POST", "/collections/pts/points/delete", {"points": [-1]})
    check(st == 400, "negative id", st, r)
    st, r = q.req("PUT", "/collections/pts/points", {"points": [{"id": 1, "vector": [1, 2, 3]}]})
    check(st == 400 and "Wrong input" in r["status"]["error"], "wrong dimension", st, r)
    st, r = q.req("POST", "/collections/pts/points/scroll", {"filter": {"must": [{"key": "city", "match": {}}]}})
    check(st == 400, "bad filter", st, r)
    st, r = q.req("POST", "/collections/nope/points/count", {})
    check(st == 404, "count on missing collection", st, r)
    q.ok("DELETE", "/collections/pts")


def test_query(q):
    pts = load(q, "qc")
    byid = {p["id"]: p for p in pts}
    rnd = random.Random(99)
    qv = [rnd.uniform(-1, 1) for _ in range(8)]
    qv2 = [rnd.uniform(-1, 1) for _ in range(8)]
    exact = {"exact": True}
    res = q.ok("POST", "/collections/qc/points/query", {"query": qv, "limit": 7, "params": exact})["points"]
    same_ranking(res, ranked(pts, cosine, qv, limit=7), "nearest")
    check(all(p["payload"] is None and p["vector"] is None for p in res), "payload/vector null by default (as Qdrant)", res[0])
    res2 = q.ok("POST", "/collections/qc/points/query", {"query": {"nearest": qv}, "limit": 7, "params": {"hnsw_ef": 128}})["points"]
    same_ranking(res2, ranked(pts, cosine, qv, limit=7), "nearest object form, HNSW")
    res = q.ok("POST", "/collections/qc/points/query", {"query": qv, "limit": 3, "offset": 2, "with_payload": True,
                                                        "params": exact})["points"]
    same_ranking(res, ranked(pts, cosine, qv, limit=5)[2:], "offset")
    check(res[0]["payload"] == byid[res[0]["id"]]["payload"], "payload", res[0])
    flt = {"must": [{"key": "city", "match": {"any": ["Berlin", "Paris"]}}], "must_not": [{"key": "n", "range": {"lt": 10}}]}
    keep = lambda p: p["payload"]["city"] in ("Berlin", "Paris") and p["payload"]["n"] >= 10  # noqa: E731
    res = q.ok("POST", "/collections/qc/points/query", {"query": qv, "filter": flt, "limit": 5})["points"]
    same_ranking(res, ranked(pts, cosine, qv, keep=keep, limit=5), "filtered")
    want = [t for t in ranked(pts, cosine, qv, limit=60) if t[0] >= 0.3]
    res = q.ok("POST", "/collections/qc/points/query", {"query": qv, "score_threshold": 0.3, "limit": 60})["points"]
    same_ranking(res, want, "score_threshold")
    # a point id as the query: its vector, the point itself left out
    res = q.ok("POST", "/collections/qc/points/query", {"query": 5, "limit": 4, "params": exact})["points"]
    same_ranking(res, ranked(pts, cosine, byid[5]["vector"], keep=lambda p: p["id"] != 5, limit=4), "query by id")
    # prefetch + fusion
    pa = {"query": qv, "limit": 15, "filter": {"must": [{"key": "city", "match": {"value": "Berlin"}}]}}
    pb = {"query": qv2, "limit": 15, "params": exact}
    la = ranked(pts, cosine, qv, keep=lambda p: p["payload"]["city"] == "Berlin", limit=15)
    lb = ranked(pts, cosine, qv2, limit=15)
    res = q.ok("POST", "/collections/qc/points/query", {"prefetch": [pa, pb], "query": {"fusion": "rrf"}, "limit": 10})["points"]
    same_ranking(res, rrf([la, lb])[:10], "rrf")
    res = q.ok("POST", "/collections/qc/points/query", {"prefetch": [pa, pb], "query": {"rrf": {"k": 60}}, "limit": 10})["points"]
    same_ranking(res, rrf([la, lb], k=60)[:10], "rrf k=60")
    res = q.ok("POST", "/collections/qc/points/query", {"prefetch": [pa, pb], "query": {"fusion": "dbsf"}, "limit": 10})["points"]
    same_ranking(res, dbsf([la, lb])[:10], "dbsf", tol=1e-3)
    # a root filter reaches the prefetches
    res = q.ok("POST", "/collections/qc/points/query",
               {"prefetch": [pb], "query": {"fusion": "rrf"}, "filter": {"must": [{"key": "city", "match": {"value": "London"}}]}})["points"]
    lbl = ranked(pts, cosine, qv2, keep=lambda p: p["payload"]["city"] == "London", limit=15)
    same_ranking(res, rrf([lbl])[:10], "root filter in prefetch")
    # nearest over prefetched candidates re-scores them
    res = q.ok("POST", "/collections/qc/points/query", {"prefetch": pa, "query": qv2, "limit": 5})["points"]
    cand = {pid for _, pid in la}
    same_ranking(res, ranked(pts, cosine, qv2, keep=lambda p: p["id"] in cand, limit=5), "rescoring")
    # nested prefetch
    res = q.ok("POST", "/collections/qc/points/query",
               {"prefetch": {"prefetch": [pa, pb], "query": {"fusion": "rrf"}, "limit": 8}, "query": qv, "limit": 3})["points"]
    c8 = {pid for _, pid in rrf([la, lb])[:8]}
    same_ranking(res, ranked(pts, cosine, qv, keep=lambda p: p["id"] in c8, limit=3), "nested prefetch")
    # batch
    out = q.ok("POST", "/collections/qc/points/query/batch", {"searches": [{"query": qv, "limit": 2, "params": exact},
                                                                          {"query": qv2, "limit": 3, "params": exact}]})
    check(len(out) == 2, "batch size", out)
    same_ranking(out[0]["points"], ranked(pts, cosine, qv, limit=2), "batch 0")
    same_ranking(out[1]["points"], ranked(pts, cosine, qv2, limit=3), "batch 1")
    # legacy search (removed from the 1.19 schema, still served by Qdrant): not schema-checked
    st, r = q.req("POST", "/collections/qc/points/search", {"vector": qv, "limit": 3}, schema=False)
    check(st == 200, "legacy search", st, r)
    same_ranking(r["result"], ranked(pts, cosine, qv, limit=3), "legacy search")
    # with_vector
    res = q.ok("POST", "/collections/qc/points/query", {"query": qv, "limit": 1, "with_vector": True})["points"]
    check(len(res[0]["vector"]) == 8, "with_vector", res)
    # errors
    for body, st_want, why in (({"query": [1, 2]}, 400, "wrong dim"),
                               ({"query": qv, "using": "nope"}, 400, "unknown vector"),
                               ({"query": {"fusion": "rrf"}}, 400, "fusion without prefetch"),
                               ({"query": {"recommend": {"positive": [1]}}}, 400, "unsupported query"),
                               ({"query": qv, "filter": {"must": [{"nokey": 1}]}}, 400, "bad filter"),
                               ({"query": 424242}, 404, "query by missing id"),
                               ({"query": qv, "limit": -1}, 400, "negative limit")):
        st, r = q.req("POST", "/collections/qc/points/query", body)
        check(st == st_want, why, st, r)


def test_named_sparse_euclid(q):
    q.ok("PUT", "/collections/ns", {"vectors": {"e": {"size": 3, "distance": "Euclid"}, "d": {"size": 2, "distance": "Dot"}},
                                    "sparse_vectors": {"kw": {}}})
    rnd = random.Random(3)
    pts = []
    for i in range(30):
        sp_idx = sorted(rnd.sample(range(50), 4))
        pts.append({"id": i, "e": [rnd.uniform(-1, 1) for _ in range(3)], "d": [rnd.uniform(-1, 1) for _ in range(2)],
                    "kw": (sp_idx, [rnd.uniform(0.1, 2) for _ in sp_idx])})
    q.ok("PUT", "/collections/ns/points", {"points": [
        {"id": p["id"], "vector": {"e": p["e"], "d": p["d"], "kw": {"indices": p["kw"][0], "values": p["kw"][1]}}} for p in pts]})
    qe = [0.1, -0.2, 0.3]
    res = q.ok("POST", "/collections/ns/points/query", {"query": qe, "using": "e", "limit": 5, "params": {"exact": True}})["points"]
    want = sorted(((euclid(p["e"], qe), p["id"]) for p in pts))[:5]
    same_ranking(res, want, "euclid (distance, smaller first)")
    res = q.ok("POST", "/collections/ns/points/query", {"query": [0.5, 1.0], "using": "d", "limit": 5})["points"]
    want = sorted(((-dot(p["d"], [0.5, 1.0]), p["id"]) for p in pts))[:5]
    same_ranking(res, [(-s, i) for s, i in want], "dot")
    sq = {"indices": [1, 7, 20, 33], "values": [1.0, 0.5, 2.0, 1.5]}
    res = q.ok("POST", "/collections/ns/points/query", {"query": sq, "using": "kw", "limit": 5})["points"]
    qmap = dict(zip(sq["indices"], sq["values"]))
    scored = [(sum(v * qmap.get(i, 0) for i, v in zip(*p["kw"])), p["id"]) for p in pts]
    want = sorted([t for t in scored if t[0] > 0], key=lambda t: (-t[0], t[1]))[:5]
    same_ranking(res, want, "sparse dot")
    recs = q.ok("POST", "/collections/ns/points", {"ids": [0], "with_vector": ["e"]})
    check(set(recs[0]["vector"]) == {"e"} and len(recs[0]["vector"]["e"]) == 3, "named vector select", recs)
    q.ok("DELETE", "/collections/ns")


def test_concurrent(q):
    """Writers and readers at once on the thread pool: every write lands once."""
    import threading
    q.ok("PUT", "/collections/conc", {"vectors": {"size": 4, "distance": "Dot"}})
    errors = []

    def worker(t):
        try:
            for b in range(5):
                ids = [t * 1000 + b * 10 + i for i in range(10)]
                q.ok("PUT", "/collections/conc/points", {"points": [{"id": i, "vector": [1, t, b, i % 7], "payload": {"t": t}} for i in ids]})
                q.ok("POST", "/collections/conc/points/query", {"query": [1, 0, 0, 1], "limit": 5, "filter": {"must": [{"key": "t", "match": {"value": t}}]}})
                q.ok("POST", "/collections/conc/points/scroll", {"limit": 3})
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    check(not errors, "no errors", errors[:3])
    check(q.ok("POST", "/collections/conc/points/count", {})["count"] == 300, "all writes landed")
    for t in range(6):
        c = q.ok("POST", "/collections/conc/points/count", {"filter": {"must": [{"key": "t", "match": {"value": t}}]}})
        check(c["count"] == 50, "per writer", t, c)
    q.ok("DELETE", "/collections/conc")


def test_api_key(binary):
    q = QServer(binary, {"HEIMDEX_QDRANT_API_KEY": "s3cret"}).start()
    try:
        st, r = q.req("GET", "/collections")
        check(st == 401 and "API key" in r["status"]["error"], "no key", st, r)
        st, r = q.req("GET", "/collections", headers={"api-key": "wrong"})
        check(st == 401, "wrong key", st, r)
        st, r = q.req("GET", "/collections", headers={"api-key": "s3cret"})
        check(st == 200, "api-key header", st, r)
        st, r = q.req("GET", "/collections", headers={"Authorization": "Bearer s3cret"})
        check(st == 200, "bearer", st, r)
        st, _ = q.req("GET", "/healthz")
        check(st == 200, "health needs no key", st)
    finally:
        q.stop()


def test_shared_engine(q):
    """heimdex's own collection (written through its API, tenant = org) is
    visible here, its points are not (they live in the org's tenant)."""
    s = q.s
    tok = hx.make_token()
    st, r = s.req("POST", "/vectors/mock", {"asset_id": "a1", "segment_id": "s0"}, tok)
    check(st == 200, "mock", st, r)
    job = s.wait_job(r["job_id"], tok)
    check(job["status"] == "completed", "job", job)
    coll = job["result"]["collection"]
    names = {c["name"] for c in q.ok("GET", "/collections")["collections"]}
    check(coll in names, "heimdex collection visible", coll, names)
    info = q.ok("GET", f"/collections/{coll}")
    check(info["points_count"] == 0, "the _qdrant tenant of it is empty", info)
    check(q.ok("POST", f"/collections/{coll}/points/count", {})["count"] == 0, "count")


def test_off_by_default(binary):
    s = hx.Server(binary).start()
    try:
        check(b"qdrant_api_started" not in open(os.path.join(s.tmp, "server.log"), "rb").read(), "not started")
    finally:
        s.cleanup()
    s = hx.Server(binary, env={"HEIMDEX_QDRANT_LISTEN": "nonsense"})
    try:
        s.start()
        raise AssertionError("started with a bad HEIMDEX_QDRANT_LISTEN")
    except RuntimeError as e:
        check("HEIMDEX_QDRANT_LISTEN=nonsense is not HOST:PORT" in str(e), "clear config error", str(e))
    finally:
        s.cleanup()


def main():
    a = hx.args()
    r = hx.Runner()
    q = QServer(a.bin).start()
    try:
        for t in (test_service, test_layer_errors, test_collections, test_points, test_query, test_named_sparse_euclid, test_shared_engine,
                  test_concurrent):
            r.run(t, q)
    finally:
        r.run(q.stop)
    r.run(test_api_key, a.bin)
    r.run(test_off_by_default, a.bin)
    print(f"schema-validated responses: {VALIDATED['count']} (not in the 1.19 schema: {VALIDATED['unschemad']})")
    r.finish()


if __name__ == "__main__":
    main()
