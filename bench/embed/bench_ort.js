// ONNX Runtime anchor (onnxruntime-node, CPU EP, all graph optimisations):
// the bench model exported by model.py at one shape.
// Prints "median_seconds iters".
// usage: node bench_ort.js MODEL.onnx BATCH SEQLEN THREADS MIN_SECONDS [DUMP]
const ort = require('onnxruntime-node');

async function main() {
  const [file, b, l, t, minS, dump] = process.argv.slice(2);
  const B = +b, L = +l;
  const s = await ort.InferenceSession.create(file, {
    intraOpNumThreads: +t, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const ids = new BigInt64Array(B * L), mask = new BigInt64Array(B * L);
  let x = 7n; // the LCG shared with bench_ours.c and bench_torch.py (BigInt: exact)
  for (let i = 0; i < B * L; i++) {
    x = (x * 1103515245n + 12345n) % 2147483648n;
    ids[i] = 5n + (x % 30517n);
    mask[i] = 1n;
  }
  const feeds = {
    input_ids: new ort.Tensor('int64', ids, [B, L]),
    attention_mask: new ort.Tensor('int64', mask, [B, L]),
  };
  const first = await s.run(feeds);
  if (dump) {
    const e = first.embedding.data;
    require('fs').writeFileSync(dump, Buffer.from(new Float32Array(e.slice(0, e.length / B)).buffer));
  }
  const times = [];
  const end = performance.now() + minS * 1000;
  while (times.length < 3 || performance.now() < end) {
    const t0 = performance.now();
    await s.run(feeds);
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, c) => a - c);
  console.log(times[Math.floor(times.length / 2)], times.length);
}
main().catch((e) => { console.error(e); process.exit(1); });
