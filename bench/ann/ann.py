#!/usr/bin/env python3
"""Runs the ANN benchmark end to end and prints one table with ratios.

heimdex (bench/ann/ann.c), hnswlib and FAISS HNSW on the same data set in the
same run; targets of issue 4 are checked and printed as met / MISSED.
"""
import argparse, json, os, subprocess, sys, tempfile, shutil

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--points", type=int, default=100_000)
ap.add_argument("--bin", required=True)
ap.add_argument("--data-root", default="/tmp/hxvec-bench")
ap.add_argument("--peers", default="hnswlib,faiss", help="peers to run (FAISS builds slowly at 1M)")
ap.add_argument("--keep", help="keep the indexed collection in this directory and reuse it on the next run "
                "(no build row then); for iterating at 1M")
ap.add_argument("--report-only", help="print the table from a saved log of JSON lines instead of running")
a = ap.parse_args()
rows = []
def run(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    for line in p.stdout:
        line = line.strip()
        if line.startswith("{"):
            rows.append(json.loads(line))
            print("  " + line, file=sys.stderr, flush=True)
    if p.wait():
        sys.exit(f"{cmd[0]} failed")

if a.report_only:
    for line in open(a.report_only):
        line = line.strip()
        if line.startswith("{"):
            rows.append(json.loads(line))
else:
    data = os.path.join(a.data_root, f"clustered-{a.points}")
    subprocess.run([sys.executable, os.path.join(here, "gen.py"), "--points", str(a.points), "--out", data], check=True)
    work = tempfile.mkdtemp(prefix="hxvec-bench-", dir=a.data_root)
    try:
        run([a.bin, data, work] + ([a.keep] if a.keep else []))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    run([sys.executable, os.path.join(here, "peers.py"), "--data", data, "--engines", a.peers])

def get(engine, what):
    return [r for r in rows if r["engine"] == engine and r["what"] == what]

engines = ["heimdex", "heimdex-int8", "hnswlib", "faiss"]
efs = sorted({r["ef"] for r in rows if r["what"] == "search"})
npts = a.points
for r0 in rows:
    if r0.get("what") == "build" and "points" in r0:
        npts = r0["points"]
print(f"\nANN benchmark: {npts} clustered 384-d normalised vectors, 1000 queries, M=16, ef_construct=100, k=10, 1 thread\n")
print("recall@10 / single-thread QPS per ef (QPS in thread CPU time; the machine is shared)")
print(f"{'ef':>5} " + " ".join(f"{e:>24}" for e in engines) + f" {'int8/float':>11}")
for ef in efs:
    cells = []
    for e in engines:
        r = [x for x in get(e, "search") if x["ef"] == ef]
        cells.append(f"{r[0]['recall']:.3f} / {r[0]['qps']:>8.0f}" if r else "-")
    fl = [x["qps"] for x in get("heimdex", "search") if x["ef"] == ef]
    i8 = [x["qps"] for x in get("heimdex-int8", "search") if x["ef"] == ef]
    ratio = f"{i8[0] / fl[0]:.2f}x" if fl and i8 else "-"
    print(f"{ef:>5} " + " ".join(f"{c:>24}" for c in cells) + f" {ratio:>11}")

def best_qps(e, floor=0.95):
    ok = [x["qps"] for x in get(e, "search") if x["recall"] >= floor]
    return max(ok) if ok else None

def fmt(v, unit=""):
    return "n/a" if v is None else f"{v:.2f}{unit}"

print("\nbuild")
for e in ["heimdex", "hnswlib", "faiss"]:
    b = get(e, "build")
    if b:
        print(f"  {e:<10} {b[0]['seconds']:8.1f} s CPU ({b[0]['wall_seconds']:.1f} s wall)   {b[0]['bytes_per_point']:8.0f} bytes/point (RSS delta)")

targets = []
def top_recall(e):
    r = [x["recall"] for x in get(e, "search")]
    return max(r) if r else 0
# equal recall: 0.95, or the best recall both engines reach if one cannot reach it
floor = min(0.95, top_recall("heimdex"), top_recall("hnswlib") or 1)
hq, lq, fq = best_qps("heimdex", floor), best_qps("hnswlib", floor), best_qps("faiss", floor)
iq, hq95 = best_qps("heimdex-int8", floor), best_qps("heimdex", floor)
r = hq / lq if hq and lq else None
targets.append((f"QPS at equal recall (>= {floor:.3f}) vs hnswlib", r, ">= 1.20x", r is not None and r >= 1.2))
rf = hq / fq if hq and fq else None
targets.append((f"QPS at equal recall (>= {floor:.3f}) vs FAISS", rf, "(info)", None))
hb, lb = get("heimdex", "build"), get("hnswlib", "build")
rb = hb[0]["seconds"] / lb[0]["seconds"] if hb and lb else None
targets.append(("build time vs hnswlib", rb, "<= 1.00x", rb is not None and rb <= 1.0))
ri = iq / hq95 if iq and hq95 else None
targets.append((f"int8 QPS vs float QPS (recall >= {floor:.3f})", ri, ">= 1.80x", ri is not None and ri >= 1.8))
for e, how in (("heimdex", "float"), ("heimdex-int8", "int8 codes")):
    fl = get(e, "filtered")
    if fl:
        f = fl[0]
        # the target is stated at 1M; judged on thread CPU time like the QPS
        # figures (wall p99 on the shared machine is mostly waiting for a core)
        clock = "CPU" if "cpu_p99_ms" in f else "wall"  # logs from before the CPU figures
        p99, p50 = (f["cpu_p99_ms"], f["cpu_p50_ms"]) if clock == "CPU" else (f["p99_ms"], f["p50_ms"])
        ok = p99 < 5.0 if npts >= 1_000_000 else None
        want = "< 5 ms at 1M" + ("" if npts >= 1_000_000 else " (run at %dk)" % (npts // 1000))
        targets.append((f"1% filtered {clock} p99 ms, {how} (p50 {p50:.2f}, recall {f['recall']:.3f})", p99, want, ok))
        if clock == "CPU":
            targets.append((f"  same, wall clock (p50 {f['p50_ms']:.2f})", f["p99_ms"], "(info)", None))
du = get("heimdex", "durable")
if du:
    d = du[0]
    targets.append(("durable upserts/s, 8 writers x batches of 100, fsync", d["threads_batch100_points_per_s"], ">= 20000",
                    d["threads_batch100_points_per_s"] >= 20000))
    targets.append(("durable upserts/s, 16 writers x single points, fsync", d["threads16_single_points_per_s"], "(info)", None))
rs = get("heimdex", "restart")
if rs:
    x = rs[0]
    targets.append((f"restart: snapshot {x['close_seconds']:.1f} s, open s (recall after {x['recall_after']:.3f})", x["open_seconds"], "(info)", None))

print("\ntargets (issue 4)")
for name, val, want, ok in targets:
    v = "n/a" if val is None else (f"{val:.2f}" if val < 1000 else f"{val:.0f}")
    status = "" if ok is None else ("met" if ok else "MISSED")
    print(f"  {name:<62} {v:>10}  {want:<22} {status}")
