#!/usr/bin/env bash
# bench/embed/run.sh - one command: our BERT forward pass vs PyTorch and ONNX
# Runtime on the same MiniLM-L6-shaped random model and shapes, in one run.
#
#   bench/embed/run.sh [BUILD_DIR]   (env: HX_BENCH_THREADS=2, HX_BENCH_SECONDS=3, HX_BENCH_ROUNDS=3,
#                                     HX_BENCH_GEMM=0 skips the GEMM library table)
#
# Installs what it needs (python3-torch, libopenblas-dev via apt;
# onnxruntime-node via npm into bench/embed/node_modules), builds
# hx_bench_embed, generates the model under bench/embed/work (seeded random
# weights, never downloaded), then runs the engines one after the other per
# shape and prints medians, throughput, GFLOP/s and ratios. Never run by
# `make test`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$root/build}"
threads="${HX_BENCH_THREADS:-2}"
secs="${HX_BENCH_SECONDS:-3}"
rounds="${HX_BENCH_ROUNDS:-3}"
py=/usr/bin/python3
work="$here/work"

"$root/scripts/install-deps.sh" bench
if [ ! -e "$here/node_modules/onnxruntime-node/package.json" ]; then
  (cd "$here" && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node >/dev/null)
fi
cmake -S "$root" -B "$build" >/dev/null
cmake --build "$build" --target hx_bench_embed -j 2 >/dev/null
cmake --build "$build" --target hx_bench_gemm -j 2 >/dev/null 2>&1 || true
mkdir -p "$work"
if [ ! -e "$work/minilm-bench.onnx" ] || [ ! -e "$work/minilm-bench/model.safetensors" ]; then
  echo "generating the bench model (random weights) ..." >&2
  "$py" "$here/model.py" "$work" 2>/dev/null
fi

if [ "${HX_BENCH_GEMM:-1}" != 0 ] && [ -x "$build/hx_bench_gemm" ]; then
  echo "== GEMM on $threads threads (GFLOP/s, best of 20) =="
  "$build/hx_bench_gemm" "$threads"
  echo
fi

res="$work/results.txt"
: > "$res"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" > "$work/load.txt"
bf16=1
"$build/hx_bench_embed" "$work/minilm-bench" 1 8 "$threads" 0 bf16 >/dev/null 2>&1 || bf16=0
# Rounds interleave the engines so that load from other processes on the
# machine hits all of them alike; the table takes the median over rounds of
# each run's median batch time.
for round in $(seq 1 "$rounds"); do
  for shape in "32 128" "64 32" "1 16"; do
    set -- $shape
    echo "round $round/$rounds: batch $1 x $2 tokens ..." >&2
    echo "$1 $2 ours $("$build/hx_bench_embed" "$work/minilm-bench" "$1" "$2" "$threads" "$secs" f32p "$work/emb_ours_$1_$2.f32")" >> "$res"
    echo "$1 $2 ours-passive $(OMP_WAIT_POLICY=passive "$build/hx_bench_embed" "$work/minilm-bench" "$1" "$2" "$threads" "$secs" f32p)" >> "$res"
    if [ "$bf16" = 1 ]; then
      echo "$1 $2 ours-bf16 $("$build/hx_bench_embed" "$work/minilm-bench" "$1" "$2" "$threads" "$secs" bf16 "$work/emb_bf16_$1_$2.f32")" >> "$res"
      echo "$1 $2 ours-bf16-passive $(OMP_WAIT_POLICY=passive "$build/hx_bench_embed" "$work/minilm-bench" "$1" "$2" "$threads" "$secs" bf16)" >> "$res"
    fi
    echo "$1 $2 ort $(node "$here/bench_ort.js" "$work/minilm-bench.onnx" "$1" "$2" "$threads" "$secs" "$work/emb_ort_$1_$2.f32")" >> "$res"
    echo "$1 $2 torch $("$py" "$here/bench_torch.py" "$1" "$2" "$threads" "$secs" "$work/emb_torch_$1_$2.f32" 2>/dev/null)" >> "$res"
  done
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)" >> "$work/load.txt"
"$py" "$here/table.py" "$res" "$work" "$threads" "$rounds"
echo "machine load average (1, 5, 15 min; $(nproc) CPUs):"
cat "$work/load.txt"
