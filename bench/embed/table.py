#!/usr/bin/python3
"""Print the bench/embed table from run.sh's results file.
Lines: BATCH SEQLEN ENGINE MEDIAN_SECONDS ITERS. Also checks that the engines
computed the same embeddings (cosine of the first sequence's vector)."""
import array
import math
import statistics
import sys

H, I, LAYERS = 384, 1536, 6
TARGET = {(32, 128): 1.25, (64, 32): 1.25, (1, 16): 1.0}


def flops(b, l):
    return b * LAYERS * (l * 2 * (4 * H * H + 2 * H * I) + 4 * l * l * H)


def load(path):
    a = array.array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    return a


def cos(a, b):
    d = sum(x * y for x, y in zip(a, b))
    return d / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


res, work, threads = sys.argv[1], sys.argv[2], sys.argv[3]
rounds = sys.argv[4] if len(sys.argv) > 4 else "1"
runs = {}
for line in open(res):
    p = line.split()
    if len(p) >= 4:
        runs.setdefault((int(p[0]), int(p[1]), p[2]), []).append(float(p[3]))
rows = {k: statistics.median(v) for k, v in runs.items()}
print(f"== BERT forward, MiniLM-L6 shape (6x384, 12 heads, FFN 1536, vocab 30522), {threads} threads, "
      f"median over {rounds} rounds of per-run medians ==")
print(f"{'shape':>10} {'engine':>17} {'ms/batch':>9} {'sent/s':>8} {'tokens/s':>9} {'GFLOP/s':>8}   ratios")
for (b, l) in [(32, 128), (64, 32), (1, 16)]:
    ort, torch = rows.get((b, l, "ort")), rows.get((b, l, "torch"))
    for eng in ("ours", "ours-passive", "ours-bf16", "ours-bf16-passive", "ort", "torch"):
        t = rows.get((b, l, eng))
        if t is None:
            continue
        line = f"{b:>4}x{l:<5} {eng:>17} {t * 1e3:9.2f} {b / t:8.1f} {b * l / t:9.0f} {flops(b, l) / t / 1e9:8.1f}"
        if eng.startswith("ours") and ort and torch:
            tgt = 2.0 if "bf16" in eng else TARGET[(b, l)]
            r = ort / t
            line += f"   vs ORT {r:.2f}x (target {tgt:.2f}x: {'met' if r >= tgt else 'MISSED'}), vs torch {torch / t:.2f}x"
        print(line)
print("ours = f32, the default (prepacked oneDNN matmuls, fused bias + GELU); *-passive = same with OMP_WAIT_POLICY=passive (robust when cores are shared);")
print("ours-bf16 = reduced precision (bf16 GEMM/attention inputs, f32 accumulation; target 2x ORT fp32).")
print()
print("== agreement (cosine): with torch and ORT on the first sequence's embedding; "
      "bf16 with our f32 on every sequence of the batch (the lowest) ==")
for (b, l) in [(32, 128), (64, 32), (1, 16)]:
    try:
        o = load(f"{work}/emb_ours_{b}_{l}.f32")
        first = o[:H]
        parts = [f"ours~torch {cos(first, load(f'{work}/emb_torch_{b}_{l}.f32')[:H]):.6f}",
                 f"ours~ort {cos(first, load(f'{work}/emb_ort_{b}_{l}.f32')[:H]):.6f}"]
        try:
            h = load(f"{work}/emb_bf16_{b}_{l}.f32")
            low = min(cos(h[r * H:(r + 1) * H], o[r * H:(r + 1) * H]) for r in range(len(o) // H))
            parts.append(f"bf16~ours min over {len(o) // H} {low:.6f}")
        except OSError:
            pass
        print(f"{b:>4}x{l:<5} " + "  ".join(parts))
    except OSError as e:
        print(f"{b}x{l}: missing {e.filename}")
