/*
 * bench_ours.c - our forward pass on the bench model at one shape.
 * The token ids come from the same LCG as bench_torch.py and bench_ort.js so
 * that all three engines see identical inputs; --dump writes the embedding
 * of the first sequence (float32, raw) for the cross-engine check in run.sh.
 *
 * usage: hx_bench_embed MODEL_DIR BATCH SEQLEN THREADS MIN_SECONDS [f32|f32p|bf16] [DUMP]
 * (f32p: prepacked oneDNN matmul with fused bias/GELU, see bert.h)
 * prints "median_seconds iters median_cpu_seconds".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "embed/bert.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s MODEL_DIR BATCH SEQLEN THREADS MIN_SECONDS [f32|f32p|bf16] [DUMP]\n", argv[0]);
    return 2;
  }
  int B = atoi(argv[2]), L = atoi(argv[3]), T = atoi(argv[4]);
  double min_s = atof(argv[5]);
  hx_err err = {0};
  hx_bert *b = NULL;
  if (hx_bert_load(argv[1], &b, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  int prec = argc <= 6 ? HX_PREC_F32 : strcmp(argv[6], "bf16") == 0 ? HX_PREC_BF16
             : strcmp(argv[6], "f32p") == 0 ? HX_PREC_F32_PACKED : HX_PREC_F32;
  if (hx_bert_set_precision(b, prec, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  const int H = hx_bert_config_of(b)->hidden;
  int32_t *ids = malloc(sizeof *ids * (size_t)B * L);
  int *lens = malloc(sizeof *lens * (size_t)B);
  float *out = malloc(sizeof *out * (size_t)B * H);
  long long x = 7;
  for (int i = 0; i < B * L; i++) {
    x = (x * 1103515245 + 12345) % 2147483648LL;
    ids[i] = (int32_t)(5 + x % 30517);
  }
  for (int i = 0; i < B; i++) lens[i] = L;
  if (hx_bert_forward(b, ids, lens, B, HX_POOL_MEAN, T, out, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  double *times = malloc(sizeof *times * 100000), *ctimes = malloc(sizeof *ctimes * 100000);
  size_t n = 0;
  double end = now() + min_s;
  while ((n < 3 || now() < end) && n < 100000) {
    double t0 = now(), c0 = cpu();
    hx_bert_forward(b, ids, lens, B, HX_POOL_MEAN, T, out, &err);
    ctimes[n] = cpu() - c0;
    times[n++] = now() - t0;
  }
  qsort(times, n, sizeof *times, cmp);
  qsort(ctimes, n, sizeof *ctimes, cmp);
  /* third column: median CPU seconds per batch (all threads; spinning included) */
  printf("%.9f %zu %.9f\n", times[n / 2], n, ctimes[n / 2]);
  if (argc > 7) { /* every sequence's vector, L2-normalised, one after the other */
    for (int r = 0; r < B; r++) {
      float *o = out + (size_t)r * H;
      double s = 0;
      for (int i = 0; i < H; i++) s += (double)o[i] * o[i];
      for (int i = 0; i < H; i++) o[i] = (float)(o[i] / sqrt(s));
    }
    FILE *f = fopen(argv[7], "wb");
    if (f) {
      fwrite(out, sizeof *out, (size_t)B * H, f);
      fclose(f);
    }
  }
  free(times);
  free(ctimes);
  free(ids);
  free(lens);
  free(out);
  hx_bert_free(b);
  return 0;
}
