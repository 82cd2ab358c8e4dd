#!/usr/bin/python3
"""PyTorch anchor: the bench model (model.py, same seed => same weights as the
files ours and ONNX Runtime load) at one shape. Prints 'median_seconds iters'.
usage: bench_torch.py BATCH SEQLEN THREADS MIN_SECONDS [DUMP]
DUMP receives the first embedding as raw float32."""
import statistics
import sys
import time

import torch

sys.path.insert(0, __import__("os").path.dirname(__file__))
import model  # noqa: E402

B, L, T, MIN_S = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
torch.set_num_threads(T)
m = model.build()
x, flat = 7, []
for _ in range(B * L):  # the LCG shared with bench_ours.c and bench_ort.js
    x = (x * 1103515245 + 12345) % 2147483648
    flat.append(5 + x % 30517)
ids = torch.tensor(flat, dtype=torch.long).view(B, L)
mask = torch.ones_like(ids)
times = []
with torch.inference_mode():
    m(ids, mask)
    t_end = time.perf_counter() + MIN_S
    while len(times) < 3 or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        m(ids, mask)
        times.append(time.perf_counter() - t0)
    if len(sys.argv) > 5:
        m(ids, mask)[0].numpy().astype("<f4").tofile(sys.argv[5])
print(statistics.median(times), len(times))
