#!/usr/bin/python3
"""bench/ingest (service part): MB/s from upload to searchable. Starts the real
`heimdex serve` (SQLite ledger, built-in lexical embedder, default chunking)
on a loopback port, then for each file, RUNS times under a fresh asset id:
POST /assets (raw body), wait for the job, fetch the last chunk's point by its
id -- the clock stops when the document is searchable. One JSON line per file
with the median seconds.
    upload_bench.py BINARY RUNS FILE..."""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "integration"))
import hx  # noqa: E402

TYPES = {".pdf": "application/pdf", ".txt": "text/plain", ".html": "text/html",
         ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def main():
    binary, runs, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    s = hx.Server(binary, env={"EMBEDDING_MODEL_NAME": "lexical", "HEIMDEX_MAX_UPLOAD_BYTES": str(256 << 20),
                               "HEIMDEX_LOG_LEVEL": "warn"}).start()
    tok = hx.make_token()
    try:
        for path in files:
            data = open(path, "rb").read()
            ctype = TYPES[os.path.splitext(path)[1]]
            times, chunks, parts = [], 0, []
            for r in range(runs):
                asset = f"bench-{os.path.basename(path)}-{r}"
                t0 = time.perf_counter()
                st, resp = s.req("POST", f"/assets?asset_id={asset}", token=tok, raw=data,
                                 headers={"Content-Type": ctype}, timeout=600)
                assert st == 200, (st, resp)
                job = s.wait_job(resp["job_id"], tok, timeout=1800)
                assert job["status"] == "completed", job
                chunks = job["result"]["chunks"]
                parts.append(job["result"]["seconds"])
                pid = hx.point_id(hx.ORG, asset, "chunk-%04d" % (chunks - 1), "lexical", "v1")
                st, _ = s.req("GET", f"/vectors/{pid}", token=tok)
                assert st == 200, st
                times.append(time.perf_counter() - t0)
            print(json.dumps({"file": os.path.basename(path), "bytes": len(data), "chunks": chunks,
                              "upload_s": statistics.median(times), "runs": runs,
                              "worker_s": {k: statistics.median(p[k] for p in parts) for k in parts[0]}}), flush=True)
    finally:
        s.cleanup()


if __name__ == "__main__":
    main()
