/* test_gemm.c - the prepacked matmul (gemm.h) run by several threads at once.
 *
 * A cached oneDNN primitive is shared by every thread that embeds with the
 * same model. With the library-managed scratchpad that is not allowed (the
 * scratchpad is common to all primitives): two threads running MiniLM-sized
 * layers at once scribbled over each other's partial sums, which showed as
 * segfaults and as bf16 vectors at cosine 0.98 to f32. Here threads run the
 * same primitives concurrently on MiniLM shapes and every result must equal
 * what one thread alone computed, bit for bit. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "embed/gemm.h"

enum { K = 384, N = 1536, M = 1024, THREADS = 4, ROUNDS = 6 };

typedef struct job {
  hx__mm *m;
  const void *x;
  const float *want;
  int dt, bad, rc;
} job;

static void *run(void *arg) {
  job *j = arg;
  float *y = malloc(sizeof *y * (size_t)M * N);
  hx_err err = {0};
  hx__gemm_threads(1);
  for (int r = 0; r < ROUNDS && !j->rc; r++) {
    if ((j->rc = hx__mm_run(j->m, M, j->x, y, &err))) break;
    if (memcmp(y, j->want, sizeof *y * (size_t)M * N)) j->bad++;
  }
  free(y);
  return NULL;
}

static void concurrent(int dt) {
  hx_err err = {0};
  float *w = malloc(sizeof *w * (size_t)K * N), *bias = malloc(sizeof *bias * N);
  float *x = malloc(sizeof *x * (size_t)M * K), *want = malloc(sizeof *want * (size_t)M * N);
  uint16_t *xb = malloc(sizeof *xb * (size_t)M * K);
  uint32_t s = 42;
  for (size_t i = 0; i < (size_t)K * N; i++) w[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
  for (int i = 0; i < N; i++) bias[i] = (float)i / N - 0.5f;
  for (size_t i = 0; i < (size_t)M * K; i++) x[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
  hx__to_bf16(x, xb, (size_t)M * K);
  if (dt == HX_DT_BF16 && !hx__mm_bf16_supported()) {
    fprintf(stderr, "no native bf16 matmul here: skipped\n");
    skip();
  }
  hx__mm *m = NULL;
  assert_int_equal(hx__mm_new(K, N, w, bias, 1, dt, HX_DT_F32, &m, &err), 0);
  const void *in = dt == HX_DT_BF16 ? (const void *)xb : (const void *)x;
  hx__gemm_threads(1);
  assert_int_equal(hx__mm_run(m, M, in, want, &err), 0);
  /* the product is the product: spot-check against a plain loop */
  for (int r = 0; r < M; r += 97)
    for (int c = 0; c < N; c += 89) {
      double acc = bias[c];
      for (int k = 0; k < K; k++) acc += (double)x[(size_t)r * K + k] * w[(size_t)k * N + c];
      double gelu = 0.5 * acc * (1.0 + erf(acc / sqrt(2.0)));
      double tol = dt == HX_DT_BF16 ? 0.05 : 1e-3;
      if (fabs(gelu - want[(size_t)r * N + c]) > tol)
        fprintf(stderr, "row %d col %d: %g vs %g\n", r, c, gelu, want[(size_t)r * N + c]);
      assert_true(fabs(gelu - want[(size_t)r * N + c]) <= tol);
    }
  pthread_t th[THREADS];
  job jobs[THREADS];
  for (int i = 0; i < THREADS; i++) {
    jobs[i] = (job){m, in, want, dt, 0, 0};
    assert_int_equal(pthread_create(&th[i], NULL, run, &jobs[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(jobs[i].rc, 0);
    if (jobs[i].bad) fprintf(stderr, "thread %d: %d of %d runs differ from the lone run\n", i, jobs[i].bad, ROUNDS);
    assert_int_equal(jobs[i].bad, 0);
  }
  hx__mm_free(m);
  free(w);
  free(bias);
  free(x);
  free(xb);
  free(want);
}

static void test_concurrent_f32(void **s) { (void)s; concurrent(HX_DT_F32); }
static void test_concurrent_bf16(void **s) { (void)s; concurrent(HX_DT_BF16); }

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_concurrent_f32),
    cmocka_unit_test(test_concurrent_bf16),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
