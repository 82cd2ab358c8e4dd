"""POST /vectors/search and DELETE /vectors/asset/{asset_id} end to end, on the
built-in engine with the built-in lexical embedder: dense, sparse (BM25) and
hybrid search, RRF and DBSF fusion checked against the explained list ranks and
scores, MMR (more diverse at lower lambda, the plain ranking at lambda 1),
pagination (pages never overlap and concatenate to one big page),
score_threshold, filters ANDed with the org scope (a filter naming another org
finds nothing of it), precise 400/422s, an empty collection, the query cache in
/metrics, and deleting an asset."""
import math
import re
import urllib.request

import hx
from hx import ORG, ORG2, check

TOPICS = {
    "coffee": ["espresso", "arabica", "roast", "barista", "latte", "crema", "grinder", "beans"],
    "ocean": ["whale", "coral", "tide", "reef", "plankton", "dolphin", "kelp", "current"],
    "code": ["compiler", "pointer", "kernel", "thread", "mutex", "allocator", "parser", "linker"],
}


def corpus():
    """60 segments per org-A asset pair: each topic's words in varying
    combinations, plus near-duplicates (for MMR) and one rare word."""
    segs = {"doc-A": [], "doc-B": []}
    n = 0
    for t, words in TOPICS.items():
        for i in range(10):
            a, b, c = words[i % 8], words[(i * 3 + 1) % 8], words[(i * 5 + 2) % 8]
            text = f"A note about {t}: the {a} and the {b} meet the {c}."
            segs["doc-A" if n % 2 == 0 else "doc-B"].append({"segment_id": f"s{n}", "text": text})
            n += 1
    # near-duplicates of one coffee sentence, and a different coffee sentence
    for i in range(6):
        segs["doc-B"].append({"segment_id": f"dup{i}", "text": f"Espresso crema espresso crema barista number {i}."})
    segs["doc-B"].append({"segment_id": "other", "text": "Espresso beans from a slow grinder, a gentle roast."})
    segs["doc-A"].append({"segment_id": "rare", "text": "The quokka of Rottnest island smiles at the kernel."})
    return segs


def ingest(s, tok, segs):
    for asset, items in segs.items():
        st, r = s.req("POST", "/vectors/embed/batch", {"asset_id": asset, "segments": items}, tok)
        check(st == 200, "batch", st, r)
        job = s.wait_job(r["job_id"], tok)
        check(job["status"] == "completed", "batch done", job)


def search(s, tok, body, want=200):
    st, r = s.req("POST", "/vectors/search", body, tok)
    check(st == want, f"search {body}", st, r)
    return r


def ids(r):
    return [x["point_id"] for x in r["results"]]


def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def mean_pairwise(vecs):
    pairs = [(i, j) for i in range(len(vecs)) for j in range(i + 1, len(vecs))]
    return sum(cos(vecs[i], vecs[j]) for i, j in pairs) / len(pairs)


def test_empty_and_errors(s):
    tok = hx.make_token()
    r = search(s, tok, {"query_text": "anything at all"})
    check(r == {"results": [], "query_model": "lexical", "query_model_ver": "v1", "total": 0}, "empty collection", r)
    for body in ({"query_text": "anything", "mode": "hybrid", "mmr": {"lambda": 0.5}},
                 {"query_text": "anything", "mode": "sparse"}):
        check(search(s, tok, body)["results"] == [], "empty collection", body)
    for q in ("", "   ", "\t\n", "\u3000 \u00a0"):
        r = search(s, tok, {"query_text": q}, 400)
        check(r == {"detail": "query_text cannot be empty"}, "blank query", q, r)
    r = search(s, tok, {"query_text": "x", "filter": {"must": [{"key": "asset_id", "match": {"valu": "a"}}]}}, 422)
    d = r["detail"][0]
    check(d["loc"] == ["body", "filter", "must", 0, "match"] and "filter.must[0].match" in d["msg"], "filter 422", r)
    r = search(s, tok, {"query_text": "x", "filter": {"must": [{"key": "a", "range": {"gt": "1"}}]}}, 422)
    check(r["detail"][0]["loc"] == ["body", "filter", "must", 0, "range", "gt"], "filter 422 path", r)
    r = search(s, tok, {"query_text": "x", "limit": 101, "offset": -1, "mode": "both", "fusion": "max",
                        "mmr": {"lambda": 1.5, "candidates": 0}, "vector": [1, 2]}, 422)
    locs = sorted(tuple(e["loc"]) for e in r["detail"])
    check(locs == sorted([("body", "limit"), ("body", "offset"), ("body", "mode"), ("body", "fusion"),
                          ("body", "mmr", "lambda"), ("body", "mmr", "candidates"), ("body", "vector")]), "422s", r)
    for w, loc, typ in (([1], ["body", "weights"], "dict_type"), ({"dense": -1}, ["body", "weights", "dense"], "greater_than_equal"),
                        ({"dense": "x"}, ["body", "weights", "dense"], "float_type"),
                        ({"bm25": 1}, ["body", "weights", "bm25"], "extra_forbidden"),
                        ({"dense": 0, "sparse": 0}, ["body", "weights"], "value_error")):
        r = search(s, tok, {"query_text": "x", "mode": "hybrid", "weights": w}, 422)
        check(len(r["detail"]) == 1 and r["detail"][0]["loc"] == loc and r["detail"][0]["type"] == typ, "weights 422", w, r)
    r = search(s, tok, {"limit": 5}, 422)
    check(r["detail"][0]["type"] == "missing" and r["detail"][0]["loc"] == ["body", "query_text"], "missing", r)
    r = search(s, tok, {"vector": [0.1] * 384, "mode": "sparse"}, 422)
    check(r["detail"][0]["loc"] == ["body", "query_text"], "sparse needs text", r)
    r = search(s, tok, {"query_text": "x", "model": "nope"}, 400)
    check(r == {"detail": "Unknown model: nope"}, "unknown model", r)
    st, r = s.req("POST", "/vectors/search", {"query_text": "x"})
    check(st == 403, "no token", st, r)
    st, r = s.req("DELETE", "/vectors/asset/nothing-here", token=tok)
    check(st == 200 and r == {"asset_id": "nothing-here", "deleted": 0}, "delete nothing", st, r)


def test_modes_and_fusion(s):
    tok = hx.make_token()
    # dense: the lexical embedder ranks texts sharing the query's words first
    r = search(s, tok, {"query_text": "whale coral reef", "limit": 5})
    check(r["total"] == 5 and all("ocean" in x["payload"]["text"] for x in r["results"]), "dense", r)
    check(r["query_model"] == "lexical", "query model", r)
    scores = [x["score"] for x in r["results"]]
    check(scores == sorted(scores, reverse=True), "dense order", scores)
    # sparse: BM25 finds the one segment with the rare word, first
    r = search(s, tok, {"query_text": "quokka", "mode": "sparse", "explain": True})
    check(r["total"] == 1 and "quokka" in r["results"][0]["payload"]["text"], "sparse rare word", r)
    e = r["results"][0]["explain"]
    check(e["dense"] is None and e["sparse"]["rank"] == 1 and e["mmr_penalty"] is None, "sparse explain", e)
    # accents and case meet in the keyword index
    r2 = search(s, tok, {"query_text": "QUÓKKA", "mode": "sparse"})
    check(ids(r2) == ids(r), "accent/case folding", r2)
    # hybrid RRF: the score is the sum of weight/(k + rank) over the lists a point is in; the
    # built-in lexical model's dense list weighs 0.15 by default, any weights can be asked for
    for k, weights in ((60, None), (1, None), (60, {"dense": 1, "sparse": 1}), (5, {"dense": 2})):
        body = {"query_text": "espresso kernel", "mode": "hybrid", "rrf_k": k, "limit": 20, "explain": True}
        if weights:
            body["weights"] = weights
        r = search(s, tok, body)
        check(r["total"] == 20, "hybrid total", r["total"])
        wd, ws = (0.15, 1.0) if weights is None else (weights.get("dense", 1), weights.get("sparse", 1))
        check(r["fusion"] == {"method": "rrf", "rrf_k": k, "weights": {"dense": wd, "sparse": ws}}, "fusion", r["fusion"])
        in_both = 0
        for x in r["results"]:
            e = x["explain"]
            want = sum(w / (k + l["rank"]) for w, l in ((wd, e["dense"]), (ws, e["sparse"])) if l)
            check(abs(x["score"] - want) < 1e-9 and x["score"] == e["fused_score"], "rrf score", x, want)
            in_both += bool(e["dense"] and e["sparse"])
        check(in_both > 0, "some points are in both lists")
        fused = [x["score"] for x in r["results"]]
        check(fused == sorted(fused, reverse=True), "rrf order", fused)
    # the quokka segment: first in sparse, also in dense -> first in hybrid
    r = search(s, tok, {"query_text": "quokka island", "mode": "hybrid", "explain": True})
    check("quokka" in r["results"][0]["payload"]["text"], "hybrid top", r["results"][0])
    # DBSF: each list normalised by mean +- 3 sd of its scores, summed; check against the explained scores
    r = search(s, tok, {"query_text": "espresso kernel", "mode": "hybrid", "fusion": "dbsf", "limit": 100,
                        "explain": True})
    dense = [x["explain"]["dense"]["score"] for x in r["results"] if x["explain"]["dense"]]
    sparse = [x["explain"]["sparse"]["score"] for x in r["results"] if x["explain"]["sparse"]]

    def bounds(v):
        m = sum(v) / len(v)
        sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
        return m - 3 * sd, 6 * sd
    # every point of both lists is within the window here (the corpus is smaller than the candidates)
    (dl, dw), (sl, sw) = bounds(dense), bounds(sparse)
    for x in r["results"]:
        e = x["explain"]
        want = (0.15 * (e["dense"]["score"] - dl) / dw if e["dense"] else 0) + ((e["sparse"]["score"] - sl) / sw if e["sparse"] else 0)
        check(abs(x["score"] - want) < 1e-5, "dbsf score", x, want)
    # a raw vector query: the point itself comes first with cosine 1
    pid = hx.point_id(ORG, "doc-A", "rare", "lexical", "v1")
    st, p = s.req("GET", f"/vectors/{pid}", token=tok)
    r = search(s, tok, {"vector": p["vector"], "limit": 3, "with_vector": True})
    check(r["results"][0]["point_id"] == pid and abs(r["results"][0]["score"] - 1) < 1e-5, "vector query", r)
    check(len(r["results"][0]["vector"]) == 384, "with_vector")
    r = search(s, tok, {"query_text": "quokka", "model": "lexical", "mode": "sparse", "with_vector": True})
    check(len(r["results"][0]["vector"]) == 384, "with_vector on sparse hits")


def test_mmr(s):
    tok = hx.make_token()
    for mode in ("dense", "hybrid"):
        base = {"query_text": "espresso crema barista", "mode": mode, "limit": 6, "with_vector": True}
        plain = search(s, tok, base)
        same = search(s, tok, dict(base, mmr={"lambda": 1.0, "candidates": 50}, explain=True))
        check(ids(same) == ids(plain), f"{mode}: lambda 1 is the plain ranking", ids(same), ids(plain))
        check(all(x["explain"]["mmr_penalty"] == 0 for x in same["results"]), "lambda 1: no penalty")
        div = search(s, tok, dict(base, mmr={"lambda": 0.2, "candidates": 50}, explain=True))
        check(div["total"] == 6, "mmr total", div)
        mp, md = mean_pairwise([x["vector"] for x in plain["results"]]), mean_pairwise([x["vector"] for x in div["results"]])
        check(md < mp - 0.05, f"{mode}: lower lambda is more diverse", md, mp)
        check(div["results"][0]["point_id"] == plain["results"][0]["point_id"], "the best stays first")
        check(any(x["explain"]["mmr_penalty"] > 0 for x in div["results"]), "penalties explained", div)
        mid = search(s, tok, dict(base, mmr={"lambda": 0.6, "candidates": 50}))
        mm = mean_pairwise([x["vector"] for x in mid["results"]])
        check(md <= mm + 1e-9 and mm <= mp + 1e-9, f"{mode}: diversity grows as lambda falls", md, mm, mp)


def test_pagination_and_threshold(s):
    tok = hx.make_token()
    for extra in ({}, {"mode": "sparse"}, {"mode": "hybrid"}, {"mode": "hybrid", "fusion": "dbsf"},
                  {"mode": "hybrid", "mmr": {"lambda": 0.5, "candidates": 40}}, {"mmr": {"lambda": 0.3}}):
        body = dict({"query_text": "the espresso whale and the kernel thread"}, **extra)
        big = ids(search(s, tok, dict(body, limit=40)))
        check(len(big) >= 20, "big page", extra, len(big))
        pages = []
        for off in range(0, 40, 7):
            page = ids(search(s, tok, dict(body, limit=7, offset=off)))
            pages += page
        check(len(pages) == len(set(pages)), "pages never overlap", extra)
        check(pages == big, "pages concatenate to the big page", extra, pages, big)
        past = search(s, tok, dict(body, offset=5000))
        check(past["results"] == [] and past["total"] == 0, "past the end", extra)
    for extra, t in (({}, 0.3), ({"mode": "sparse"}, 2.0), ({"mode": "hybrid"}, 0.015)):
        body = dict({"query_text": "espresso crema barista", "limit": 100}, **extra)
        allr = search(s, tok, body)["results"]
        cut = search(s, tok, dict(body, score_threshold=t))["results"]
        want = [x["point_id"] for x in allr if x["score"] >= t]
        check(0 < len(cut) < len(allr), "threshold cuts some", extra, len(cut), len(allr))
        check(ids({"results": cut}) == want and all(x["score"] >= t for x in cut), "threshold", extra)


def test_filters_and_org_scope(s):
    tok, tok2 = hx.make_token(), hx.make_token(org_id=ORG2)
    q = {"query_text": "espresso reef kernel quokka", "limit": 100}
    for mode in ("dense", "sparse", "hybrid"):
        allr = search(s, tok, dict(q, mode=mode))["results"]
        check({x["payload"]["org_id"] for x in allr} == {ORG}, "own org only", mode)
        a = search(s, tok, dict(q, mode=mode, asset_id="doc-A"))["results"]
        check(a and all(x["payload"]["asset_id"] == "doc-A" for x in a), "asset_id", mode)
        one = search(s, tok, dict(q, mode=mode, asset_id="doc-A", segment_id="rare"))["results"]
        check([x["payload"]["segment_id"] for x in one] == ["rare"], "segment_id", mode, one)
        f = {"must_not": [{"key": "asset_id", "match": {"value": "doc-A"}}]}
        b = search(s, tok, dict(q, mode=mode, filter=f))["results"]
        check(b and all(x["payload"]["asset_id"] == "doc-B" for x in b), "client filter", mode)
        both = search(s, tok, dict(q, mode=mode, filter=f, asset_id="doc-A"))["results"]
        check(both == [], "client filter AND asset_id", mode, both)
        # a filter naming another org finds nothing of it (and nothing at all)
        other = {"must": [{"key": "org_id", "match": {"value": ORG2}}]}
        check(search(s, tok, dict(q, mode=mode, filter=other))["results"] == [], "other org filter", mode)
        widen = {"should": [{"key": "org_id", "match": {"any": [ORG, ORG2]}}]}
        w = search(s, tok, dict(q, mode=mode, filter=widen))["results"]
        check({x["payload"]["org_id"] for x in w} == {ORG} and len(w) == len(allr), "cannot widen", mode)
        # the other org sees only its own points
        r2 = search(s, tok2, dict(q, mode=mode))["results"]
        check(r2 and {x["payload"]["org_id"] for x in r2} == {ORG2}, "org 2 scope", mode, r2)
    # BM25's IDF is the org's own: org 2's single quokka segment does not change org 1's scores
    r = search(s, tok2, {"query_text": "quokka", "mode": "sparse"})["results"]
    check(len(r) == 1 and r[0]["payload"]["org_id"] == ORG2, "org 2 quokka", r)


def metric(s, name, labels):
    with urllib.request.urlopen(s.base + "/metrics") as resp:
        text = resp.read().decode()
    m = re.search(r"^%s\{%s\} (\d+)" % (re.escape(name), re.escape(labels)), text, re.M)
    return int(m.group(1)) if m else 0


def test_query_cache(s):
    tok = hx.make_token()
    q = {"query_text": "a query seen twice: plankton kelp"}
    h0, m0 = metric(s, "heimdex_query_cache_total", 'result="hit"'), metric(s, "heimdex_query_cache_total", 'result="miss"')
    first = search(s, tok, q)
    h1, m1 = metric(s, "heimdex_query_cache_total", 'result="hit"'), metric(s, "heimdex_query_cache_total", 'result="miss"')
    second = search(s, tok, q)
    h2 = metric(s, "heimdex_query_cache_total", 'result="hit"')
    check(m1 == m0 + 1 and h1 == h0, "first time: a miss", m0, m1, h0, h1)
    check(h2 == h1 + 1, "second time: a hit", h1, h2)
    check(first == second, "a cached query gives the same answer")
    check(metric(s, "heimdex_search_total", 'status="success"') > 0, "search counter")


def test_delete_asset(s):
    tok, tok2 = hx.make_token(), hx.make_token(org_id=ORG2)
    n_a = len(search(s, tok, {"query_text": "note", "mode": "sparse", "asset_id": "doc-A", "limit": 100})["results"])
    st, r = s.req("DELETE", "/vectors/asset/doc-A", token=tok2)
    check(st == 200 and r == {"asset_id": "doc-A", "deleted": 1}, "org 2 deletes only its own doc-A", r)
    st, r = s.req("DELETE", "/vectors/asset/doc-A", token=tok)
    check(st == 200 and r == {"asset_id": "doc-A", "deleted": n_a + 1}, "delete asset count", r, n_a)  # + "rare"
    check(search(s, tok, {"query_text": "note quokka", "mode": "hybrid", "asset_id": "doc-A"})["results"] == [],
          "asset gone")
    check(search(s, tok, {"query_text": "note", "mode": "sparse", "asset_id": "doc-B"})["total"] == 10, "others kept")
    st, r = s.req("DELETE", "/vectors/asset/doc-A", token=tok)
    check(st == 200 and r["deleted"] == 0, "again: nothing", r)
    # mock points carry their text's sparse vector too
    st, r = s.req("POST", "/vectors/mock", {"asset_id": "mock-asset", "segment_id": "m0"}, tok)
    s.wait_job(r["job_id"], tok)
    r = search(s, tok, {"query_text": "mock embedding", "mode": "sparse"})
    check(r["total"] == 1 and r["results"][0]["payload"]["asset_id"] == "mock-asset", "mock sparse", r)


def test_rate_limit(binary):
    s = hx.Server(binary, env={"HEIMDEX_RATE_LIMIT_SEARCH": "0.5,2"}).start()
    try:
        tok = hx.make_token()
        sts = [s.req("POST", "/vectors/search", {"query_text": "x"}, tok)[0] for _ in range(3)]
        check(sts == [200, 200, 429], "search rate class", sts)
        check(s.req("POST", "/vectors/embed", {"asset_id": "a", "segment_id": "b", "text": "x"}, tok)[0] == 200,
              "other classes unaffected")
    finally:
        s.cleanup()


def main():
    a = hx.args()
    run = hx.Runner()
    s = hx.Server(a.bin, env={"HEIMDEX_SYNC": "false"}).start()
    try:
        run.run(test_empty_and_errors, s)
        ingest(s, hx.make_token(), corpus())
        ingest(s, hx.make_token(org_id=ORG2), {"doc-A": [{"segment_id": "x", "text": "A quokka and an espresso."}],
                                               "doc-Z": [{"segment_id": "y", "text": "Coral reef kernel notes."}]})
        run.run(test_modes_and_fusion, s)
        run.run(test_mmr, s)
        run.run(test_pagination_and_threshold, s)
        run.run(test_filters_and_org_scope, s)
        run.run(test_query_cache, s)
        run.run(test_delete_asset, s)
    finally:
        s.cleanup()
    run.run(test_rate_limit, a.bin)
    run.finish()


if __name__ == "__main__":
    main()
