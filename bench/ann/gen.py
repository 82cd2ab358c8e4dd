#!/usr/bin/env python3
"""Data set of the ANN benchmark (issue 4): clustered, normalised 384-d vectors.

100 Gaussian centres drawn N(0,1); points = centre + N(0,1) noise per dimension,
then normalised; seed 42; queries drawn the same way. Writes base.f32, query.f32
(raw little-endian float32, row-major) and gt.i32 (exact top-100 by inner
product, computed with NumPy, independent of every engine measured).
"""
import argparse, os, sys
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--points", type=int, default=100_000)
ap.add_argument("--queries", type=int, default=1000)
ap.add_argument("--dim", type=int, default=384)
ap.add_argument("--out", required=True)
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
if os.path.exists(os.path.join(a.out, "gt.i32")):
    sys.exit(0)
rng = np.random.default_rng(42)
centres = rng.standard_normal((100, a.dim)).astype(np.float32)

def draw(n):
    out = np.empty((n, a.dim), dtype=np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        lab = rng.integers(0, 100, m)
        x = centres[lab] + rng.standard_normal((m, a.dim)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[s:s + m] = x
    return out

base = draw(a.points)
query = draw(a.queries)
base.tofile(os.path.join(a.out, "base.f32"))
query.tofile(os.path.join(a.out, "query.f32"))
gt = np.empty((a.queries, 100), dtype=np.int32)
for s in range(0, a.queries, 100):
    sims = query[s:s + 100] @ base.T
    idx = np.argpartition(-sims, 100, axis=1)[:, :100]
    order = np.argsort(-np.take_along_axis(sims, idx, axis=1), axis=1)
    gt[s:s + 100] = np.take_along_axis(idx, order, axis=1)
gt.tofile(os.path.join(a.out, "gt.i32"))
