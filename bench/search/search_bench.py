#!/usr/bin/env python3
"""bench/search: index N text segments through the HTTP API with the built-in
embedder, then drive POST /vectors/search with wrk (loopback, C connections,
S seconds) for vector queries and for text queries. Prints req/s, p50/p99,
errors and non-2xx, and recall@10 of the vector queries (the same request
bodies wrk sends) against exact search through the same API."""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import hx  # noqa: E402


def vocabulary():
    """Words of Debian's package descriptions (a real vocabulary), else synthetic."""
    try:
        out = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, timeout=120).stdout.decode("utf-8", "replace")
        words = sorted(set(w.lower() for w in re.findall(r"[A-Za-z]{3,}", out)))
        if len(words) > 2000:
            return words
    except (OSError, subprocess.TimeoutExpired):
        pass
    rnd = random.Random(7)
    return ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(3, 9))) for _ in range(20000)]


def documents(n, words, seed=42):
    """n texts of 8..40 words, Zipf-like word choice around 200 topics."""
    rnd = random.Random(seed)
    topics = [rnd.sample(words, 60) for _ in range(200)]
    docs = []
    for _ in range(n):
        t = topics[rnd.randrange(len(topics))]
        k = rnd.randint(8, 40)
        docs.append(" ".join(t[min(int(rnd.paretovariate(1.2)) - 1, 59)] if rnd.random() < 0.7
                             else words[rnd.randrange(len(words))] for _ in range(k)))
    return docs


def ingest(s, tok, docs, batch=5000, threads=2):
    jobs, lock = [], threading.Lock()
    chunks = [(k, docs[i:i + batch]) for k, i in enumerate(range(0, len(docs), batch))]

    def work(part):
        for k, texts in part:
            segs = [{"segment_id": f"s{i}", "text": t} for i, t in enumerate(texts)]
            st, r = s.req("POST", "/vectors/embed/batch", {"asset_id": f"bench-{k}", "segments": segs}, tok, timeout=300)
            assert st == 200, (st, r)
            with lock:
                jobs.append((k, r["job_id"]))

    ts = [threading.Thread(target=work, args=(chunks[i::threads],)) for i in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    info = {}
    for k, jid in jobs:
        j = s.wait_job(jid, tok, timeout=1800)
        assert j["status"] == "completed" and j["result"]["segments_failed"] == 0, j
        info[k] = (j["result"]["model"], j["result"]["model_ver"])
    return info


WRK_LUA = r"""
local bodies = {}
local i = 0
local f = io.open(os.getenv("HX_BODIES"), "r")
for line in f:lines() do bodies[#bodies + 1] = line end
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("HX_TOKEN")
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, "/vectors/search", nil, bodies[i])
end
"""


def run_wrk(base, tok, bodies, conns, secs, tmp, name):
    bf = os.path.join(tmp, name + ".bodies")
    with open(bf, "w") as f:
        for b in bodies:
            f.write(json.dumps(b, separators=(",", ":")) + "\n")
    lua = os.path.join(tmp, "search.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA)
    env = dict(os.environ, HX_BODIES=bf, HX_TOKEN=tok)
    out = subprocess.run(["wrk", "-t", "2", "-c", str(conns), "-d", f"{secs}s", "--latency", "-s", lua, base],
                         env=env, capture_output=True, text=True, timeout=secs + 120).stdout
    def ms(label):
        m = re.search(r"^\s*" + label + r"\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    sock = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(m.group(1)) if m else 0
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "errors": sock, "non2xx": non2xx, "raw": out}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--points", type=int, default=100000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20, help="seconds of discarded vector queries before measuring")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hx-bench-search-")
    s = hx.Server(a.binary, env={"HEIMDEX_LOG_LEVEL": "warn", "HEIMDEX_MAX_BODY_BYTES": str(64 << 20)})
    tok = hx.make_token()
    try:
        s.start()
        words = vocabulary()
        docs = documents(a.points, words)
        t0 = time.time()
        info = ingest(s, tok, docs)
        t_ingest = time.time() - t0
        print(f"indexed {a.points} segments through the API in {t_ingest:.1f} s "
              f"({a.points / t_ingest:.0f} segments/s)", flush=True)
        # points are searchable at once, but those the background indexer has not put
        # in the HNSW graph yet are scanned exactly: measure the steady state
        t0 = time.time()
        while True:
            with urllib.request.urlopen(s.base + "/metrics", timeout=30) as resp:
                text = resp.read().decode()
            m = re.search(r"^heimdex_vector_unindexed (\d+)", text, re.M)
            assert m, text[:200]
            if int(m.group(1)) == 0:
                break
            time.sleep(0.5)
        print(f"graph indexing finished {time.time() - t0:.1f} s after the last job completed", flush=True)
        rnd = random.Random(1)
        # vector queries: stored vectors of random points, perturbed and renormalised
        vq = []
        batch = 5000
        while len(vq) < a.queries:
            i = rnd.randrange(a.points)
            model, ver = info[i // batch]
            st, p = s.req("GET", f"/vectors/{hx.point_id(hx.ORG, f'bench-{i // batch}', f's{i % batch}', model, ver)}", token=tok)
            assert st == 200, (st, p)
            v = [x + rnd.gauss(0, 0.02) for x in p["vector"]]
            n = sum(x * x for x in v) ** 0.5
            vq.append({"vector": [round(x / n, 7) for x in v], "limit": 10})
        # recall@10 of exactly these bodies against exact search
        hits = 0
        for b in vq:
            st, r = s.req("POST", "/vectors/search", b, tok)
            assert st == 200, (st, r)
            st, e = s.req("POST", "/vectors/search", dict(b, exact=True), tok)
            assert st == 200, (st, e)
            hits += len({x["point_id"] for x in r["results"]} & {x["point_id"] for x in e["results"]})
        recall = hits / (10.0 * len(vq))
        tq = [{"query_text": " ".join(rnd.sample(docs[rnd.randrange(a.points)].split(), 3)), "limit": 10}
              for _ in range(a.queries)]
        # warm-up, discarded: the first seconds after a 100k ingest are slower and
        # spikier on this machine for reasons outside the process (measured: p99
        # 24-38 ms in the first 20 s, 12-18 ms a minute later, no thread of ours
        # busy in between)
        if a.warmup:
            run_wrk(s.base, tok, vq, a.connections, a.warmup, tmp, "warmup")
        rows = []
        for name, bodies in (("vector", vq), ("text", tq)):
            r = run_wrk(s.base, tok, bodies, a.connections, a.seconds, tmp, name)
            rows.append((name, r))
        st, _ = s.req("GET", "/healthz")
        print()
        print(f"bench/search: {a.points} points, wrk {a.connections} connections x {a.seconds} s on loopback "
              f"(after {a.warmup} s of warm-up), limit 10; vector recall@10 vs exact = {recall:.3f}")
        print("| queries | req/s | p50 | p99 | socket errors | non-2xx | target |")
        print("|---|---|---|---|---|---|---|")
        for name, r in rows:
            tgt = ""
            if name == "vector":
                ok = r["rps"] >= 3000 and r["p99"] < 20 and recall >= 0.95 and r["errors"] == 0 and r["non2xx"] == 0
                tgt = f"≥3,000 req/s, p99 <20 ms, recall ≥0.95, 0 errors: {'met' if ok else 'MISSED'} " \
                      f"({r['rps'] / 3000:.2f}x of 3,000)"
            print(f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} ms | {r['p99']:.2f} ms | {r['errors']} | {r['non2xx']} | {tgt} |")
        if os.environ.get("HX_BENCH_VERBOSE"):
            for name, r in rows:
                print(r["raw"])
    finally:
        s.stop()
        s.cleanup()


if __name__ == "__main__":
    main()
