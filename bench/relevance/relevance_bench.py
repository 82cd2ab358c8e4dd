#!/usr/bin/env python3
"""bench/relevance: index N Debian package long descriptions through the API
(one segment each), query with each package's one-line summary, and score the
ranking of the one relevant document: nDCG@10 (1/log2(1+rank)) and recall@10,
for mode dense, sparse and hybrid (rrf and dbsf), with the built-in embedder
and with every neural model GET /models lists."""
import argparse
import math
import os
import random
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import hx  # noqa: E402


def corpus(path, n, seed=42):
    """(package, summary, long description) for n packages whose first
    paragraph no other package shares (so the relevant document is unique)."""
    cat = "lz4cat" if path.endswith(".lz4") else ("xzcat" if path.endswith(".xz") else "cat")
    text = subprocess.run([cat, path], capture_output=True, check=True).stdout.decode("utf-8", "replace")
    recs = []
    for block in text.split("\n\n"):
        pkg, summary, body = None, None, []
        for line in block.split("\n"):
            if line.startswith("Package: "):
                pkg = line[9:].strip()
            elif line.startswith("Description-en: "):
                summary = line[16:].strip()
            elif line.startswith(" ") and summary is not None:
                body.append("" if line.strip() == "." else line.strip())
        long = "\n".join(body).strip()
        if pkg and summary and len(long) >= 120:
            recs.append((pkg, summary, long))
    first = {}
    for p, s, l in recs:
        k = l.split("\n\n")[0]
        first[k] = first.get(k, 0) + 1
    summ = {}
    for p, s, l in recs:
        summ[s.lower()] = summ.get(s.lower(), 0) + 1
    uniq = [r for r in recs if first[r[2].split("\n\n")[0]] == 1 and summ[r[1].lower()] == 1]
    random.Random(seed).shuffle(uniq)
    return uniq[:n]


def index(s, tok, docs, model=None, batch=1000):
    jobs = []
    for i in range(0, len(docs), batch):
        body = {"asset_id": "debian" + (f"-{model}" if model else ""),
                "segments": [{"segment_id": p, "text": l} for p, _, l in docs[i:i + batch]]}
        if model:
            body["model"] = model
        st, r = s.req("POST", "/vectors/embed/batch", body, tok, timeout=600)
        assert st == 200, (st, r)
        jobs.append(r["job_id"])
    res = None
    for j in jobs:
        job = s.wait_job(j, tok, timeout=3600)
        assert job["status"] == "completed", job
        res = job["result"]
    return res["model"], res["model_ver"]


def evaluate(s, tok, docs, mode, model, req_model, fusion=None, weights=None, threads=4):
    """model: the payload model the documents were indexed with; req_model: the
    request's model field (None = the default model)."""
    ndcg, hit, lock = [0.0], [0], threading.Lock()
    filt = {"must": [{"key": "model", "match": {"value": model}}]}

    def work(part):
        for p, summary, _ in part:
            body = {"query_text": summary, "limit": 10, "mode": mode, "filter": filt}
            if req_model:
                body["model"] = req_model
            if fusion:
                body["fusion"] = fusion
            if weights:
                body["weights"] = weights
            st, r = s.req("POST", "/vectors/search", body, tok)
            assert st == 200, (st, r)
            ranks = [i for i, x in enumerate(r["results"]) if x["payload"]["segment_id"] == p]
            with lock:
                if ranks:
                    ndcg[0] += 1.0 / math.log2(ranks[0] + 2)
                    hit[0] += 1

    ts = [threading.Thread(target=work, args=(docs[i::threads],)) for i in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    return ndcg[0] / len(docs), hit[0] / len(docs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--translations", required=True)
    ap.add_argument("--packages", type=int, default=3000)
    ap.add_argument("--split", choices=("test", "train"), default="test",
                    help="test: the packages this bench reports on; train: as many other packages, disjoint "
                         "from them (where the lexical model's default dense weight was chosen)")
    a = ap.parse_args()
    docs = corpus(a.translations, 10 ** 9)
    if a.split == "test":
        docs = docs[:a.packages]
    else:
        rest = docs[a.packages:]
        random.Random(7).shuffle(rest)
        docs = rest[:a.packages]
    s = hx.Server(a.binary, env={"HEIMDEX_LOG_LEVEL": "warn", "HEIMDEX_MAX_BODY_BYTES": str(64 << 20)})
    tok = hx.make_token()
    try:
        s.start()
        st, m = s.req("GET", "/models", token=tok)
        assert st == 200, (st, m)
        models = [(None, m["default"])] + [(x["name"], x["name"]) for x in m["models"]
                                            if x.get("kind") == "bert" and x["name"] != m["default"]]
        rows = []
        for req_model, label in models:
            name, ver = index(s, tok, docs, req_model)
            for mode, fusion, w in (("dense", None, None), ("sparse", None, None), ("hybrid", "rrf", None),
                                    ("hybrid", "dbsf", None), ("hybrid", "rrf", {"dense": 1, "sparse": 1}),
                                    ("hybrid", "dbsf", {"dense": 1, "sparse": 1})):
                nd, rc = evaluate(s, tok, docs, mode, name, req_model, fusion, w)
                rows.append((label, mode + (f" ({fusion}{', weights 1:1' if w else ''})" if fusion else ""), nd, rc))
        print()
        print(f"bench/relevance: {len(docs)} Debian packages ({a.split} split; query = one-line summary, relevant = "
              f"its long description), indexed and searched through the API; hybrid rows use the default weights "
              f"(lexical: dense 0.15, sparse 1) unless marked 1:1")
        print("| model | mode | nDCG@10 | recall@10 |")
        print("|---|---|---|---|")
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]:.4f} | {r[3]:.4f} |")
        for label in dict.fromkeys(r[0] for r in rows):
            got = {r[1]: r[2] for r in rows if r[0] == label}
            best_single = max(got["dense"], got["sparse"])
            best_h = max(v for k, v in got.items() if k.startswith("hybrid") and "1:1" not in k)
            print(f"{label}: hybrid {best_h:.4f} vs best single mode {best_single:.4f} → target (hybrid beats dense "
                  f"and sparse): {'met' if best_h > best_single else 'MISSED'}")
    finally:
        s.cleanup()


if __name__ == "__main__":
    main()
