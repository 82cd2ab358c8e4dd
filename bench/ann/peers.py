#!/usr/bin/env python3
"""hnswlib and FAISS HNSW on the same data, same machine, same run (one thread).

Throughput is measured in CPU time (thread CPU time for searches, process CPU
time for builds), like bench/ann/ann.c, because the machine is shared; wall
clock figures are printed too (qps_wall, wall_seconds).

Prints one JSON object per line: build seconds, memory per point (RSS delta)
and, for each ef, recall@10 against gt.i32 and single-thread QPS (queries in
one batch with one thread, so no Python overhead per query).
"""
import argparse, json, os, time
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--data", required=True)
ap.add_argument("--dim", type=int, default=384)
ap.add_argument("--efs", default="16,32,64,128,256")
ap.add_argument("--engines", default="hnswlib,faiss")
a = ap.parse_args()
efs = [int(x) for x in a.efs.split(",")]
base = np.fromfile(os.path.join(a.data, "base.f32"), dtype=np.float32).reshape(-1, a.dim)
query = np.fromfile(os.path.join(a.data, "query.f32"), dtype=np.float32).reshape(-1, a.dim)
gt = np.fromfile(os.path.join(a.data, "gt.i32"), dtype=np.int32).reshape(len(query), -1)[:, :10]
n = len(base)

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def recall(labels):
    return float(np.mean([len(set(labels[i][:10]) & set(gt[i])) / 10 for i in range(len(gt))]))

def emit(**kw):
    print(json.dumps(kw), flush=True)

engines = a.engines.split(",")
try:
    if "hnswlib" not in engines:
        raise ImportError
    import hnswlib
    r0 = rss()
    idx = hnswlib.Index(space="ip", dim=a.dim)
    idx.init_index(max_elements=n, M=16, ef_construction=100, random_seed=100)
    t, tc = time.perf_counter(), time.process_time()
    idx.add_items(base, np.arange(n), num_threads=1)
    emit(engine="hnswlib", what="build", seconds=time.process_time() - tc, wall_seconds=time.perf_counter() - t,
         bytes_per_point=(rss() - r0) / n)
    for ef in efs:
        idx.set_ef(ef)
        idx.knn_query(query[:50], k=10, num_threads=1)
        t, tc = time.perf_counter(), time.thread_time()
        lab, _ = idx.knn_query(query, k=10, num_threads=1)
        dt, dc = time.perf_counter() - t, time.thread_time() - tc
        emit(engine="hnswlib", what="search", ef=ef, recall=recall(lab), qps=len(query) / dc, qps_wall=len(query) / dt)
    del idx
except ImportError:
    emit(engine="hnswlib", what="missing")

try:
    if "faiss" not in engines:
        raise ImportError
    import faiss
    faiss.omp_set_num_threads(1)
    r0 = rss()
    idx = faiss.IndexHNSWFlat(a.dim, 16, faiss.METRIC_INNER_PRODUCT)
    idx.hnsw.efConstruction = 100
    t, tc = time.perf_counter(), time.process_time()
    idx.add(base)
    emit(engine="faiss", what="build", seconds=time.process_time() - tc, wall_seconds=time.perf_counter() - t,
         bytes_per_point=(rss() - r0) / n)
    for ef in efs:
        idx.hnsw.efSearch = ef
        idx.search(query[:50], 10)
        t, tc = time.perf_counter(), time.thread_time()
        _, lab = idx.search(query, 10)
        dt, dc = time.perf_counter() - t, time.thread_time() - tc
        emit(engine="faiss", what="search", ef=ef, recall=recall(lab), qps=len(query) / dc, qps_wall=len(query) / dt)
except ImportError:
    emit(engine="faiss", what="missing")
