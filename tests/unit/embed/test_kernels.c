/* test_kernels.c - exp, GELU, LayerNorm and one attention head against
 * straightforward double-precision versions (libm erf/exp). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "embed/gemm.h"
#include "embed/kernels.h"

static float rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return ((float)((*s >> 8) & 0xffff) / 65536.0f) * 2.0f - 1.0f;
}

static void test_exp(void **st) {
  (void)st;
  float x[1001], y[1001];
  for (int i = 0; i <= 1000; i++) x[i] = -87.0f + 175.0f * (float)i / 1000.0f;
  hx__kern_exp(x, y, 1001);
  for (int i = 0; i <= 1000; i++) {
    double w = exp((double)x[i]);
    assert_true(fabs(y[i] - w) <= 4e-7 * w);
  }
}

static void test_gelu(void **st) {
  (void)st;
  float x[801], b[801] = {0};
  for (int i = 0; i <= 800; i++) x[i] = -10.0f + 20.0f * (float)i / 800.0f;
  float x0[801];
  memcpy(x0, x, sizeof x);
  hx__kern_bias_gelu(x, b, 801);
  for (int i = 0; i <= 800; i++) {
    double v = x0[i], w = 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
    assert_true(fabs(x[i] - w) <= 2e-6 * (1 + fabs(v)));
  }
  /* a bias, and none (NULL); lengths that end inside a 16-lane block */
  for (int i = 0; i <= 800; i++) b[i] = 0.01f * (float)(i % 37) - 0.2f;
  for (size_t n = 1; n <= 801; n += 50) {
    memcpy(x, x0, sizeof x);
    hx__kern_bias_gelu(x, b, n);
    for (size_t i = 0; i < 801; i++) {
      double v = (double)x0[i] + b[i], w = 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
      if (i < n) assert_true(fabs(x[i] - w) <= 2e-6 * (1 + fabs(v)));
      else assert_true(x[i] == x0[i]); /* nothing written past n */
    }
    memcpy(x, x0, sizeof x);
    hx__kern_bias_gelu(x, NULL, n);
    for (size_t i = 0; i < n; i++) {
      double v = x0[i], w = 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
      assert_true(fabs(x[i] - w) <= 2e-6 * (1 + fabs(v)));
    }
  }
}

static void test_layernorm(void **st) {
  (void)st;
  unsigned s = 7;
  float x[384], y[384], bias[384], g[384], b[384], x0[384];
  for (int i = 0; i < 384; i++) {
    x[i] = rnd(&s) * 3;
    y[i] = rnd(&s);
    bias[i] = rnd(&s) * 0.1f;
    g[i] = 1 + rnd(&s) * 0.2f;
    b[i] = rnd(&s) * 0.1f;
    x0[i] = x[i];
  }
  hx__kern_add_layernorm(x, y, bias, g, b, 384, 1e-12f);
  double m = 0, v = 0, z[384];
  for (int i = 0; i < 384; i++) m += z[i] = (double)x0[i] + y[i] + bias[i];
  m /= 384;
  for (int i = 0; i < 384; i++) v += (z[i] - m) * (z[i] - m);
  v /= 384;
  for (int i = 0; i < 384; i++)
    assert_true(fabs(x[i] - ((z[i] - m) / sqrt(v + 1e-12) * g[i] + b[i])) < 2e-5);
}

/* One head at column offset D of each of q/k/v (sections of width 2D). */
static void attention_case(int L, int D) {
  const int S = 3 * 2 * D, C = 2 * D;
  unsigned s = 11 + (unsigned)L;
  float *qkv = malloc(sizeof(float) * L * S), *ctx = malloc(sizeof(float) * L * C), *bias = malloc(sizeof(float) * 3 * D);
  float *scr = malloc(sizeof(float) * hx__kern_attention_scratch(L, D));
  double *sc = malloc(sizeof(double) * L);
  for (int i = 0; i < L * S; i++) qkv[i] = rnd(&s) * 2;
  for (int i = 0; i < 3 * D; i++) bias[i] = rnd(&s) * 0.5f;
  const float scale = 1.0f / sqrtf((float)D);
  const float *q = qkv + D, *k = qkv + C + D, *v = qkv + 2 * C + D;
  hx__kern_attention(q, k, v, (size_t)S, bias, bias + D, bias + 2 * D, L, D, scale, ctx + D, (size_t)C, scr);
  for (int i = 0; i < L; i++) {
    double mx = -1e30, sum = 0;
    for (int j = 0; j < L; j++) {
      double d = 0;
      for (int c = 0; c < D; c++)
        d += ((double)q[i * S + c] + bias[c]) * ((double)k[j * S + c] + bias[D + c]);
      sc[j] = d * scale;
      mx = sc[j] > mx ? sc[j] : mx;
    }
    for (int j = 0; j < L; j++) sum += sc[j] = exp(sc[j] - mx);
    for (int c = 0; c < D; c++) {
      double o = 0;
      for (int j = 0; j < L; j++) o += sc[j] / sum * ((double)v[j * S + c] + bias[2 * D + c]);
      assert_true(fabs(ctx[i * C + D + c] - o) < 1e-5);
    }
  }
  free(qkv);
  free(ctx);
  free(bias);
  free(scr);
  free(sc);
}

/* Lengths around the 16/32-key blocks and the 4-row query blocks; head
 * sizes of one to four 16-lane vectors (MiniLM 32, BGE-base 64) and one the
 * vector path does not take (8). */
static void test_attention(void **st) {
  (void)st;
  const int cases[][2] = {{37, 32}, {1, 32}, {16, 16}, {130, 64}, {33, 48}, {9, 8}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) attention_case(cases[i][0], cases[i][1]);
}

/* bf16 attention: same as the double reference within bf16 rounding. */
static void test_attention_bf16(void **st) {
  (void)st;
  if (!hx__kern_attention_bf16_ok(32)) skip();
  enum { L = 45, D = 32, S = 3 * 64 };
  unsigned s = 5;
  float *qkv = malloc(sizeof(float) * L * S), bias[3 * D];
  uint16_t ctx[L * 64];
  float *scr = malloc(sizeof(float) * hx__kern_attention_scratch(L, D));
  for (int i = 0; i < L * S; i++) qkv[i] = rnd(&s) * 2;
  for (int i = 0; i < 3 * D; i++) bias[i] = rnd(&s) * 0.5f;
  const float scale = 1.0f / sqrtf(D);
  const float *q = qkv + 32, *k = qkv + 64 + 32, *v = qkv + 128 + 32;
  hx__kern_attention_bf16(q, k, v, S, bias, bias + D, bias + 2 * D, L, D, scale, ctx + 32, 64, scr);
  double maxd = 0;
  for (int i = 0; i < L; i++) {
    double sc[L], mx = -1e30, sum = 0;
    for (int j = 0; j < L; j++) {
      double dd = 0;
      for (int c = 0; c < D; c++)
        dd += ((double)q[i * S + c] + bias[c]) * ((double)k[j * S + c] + bias[D + c]);
      sc[j] = dd * scale;
      mx = sc[j] > mx ? sc[j] : mx;
    }
    for (int j = 0; j < L; j++) sum += sc[j] = exp(sc[j] - mx);
    for (int c = 0; c < D; c++) {
      double o = 0;
      for (int j = 0; j < L; j++) o += sc[j] / sum * ((double)v[j * S + c] + bias[2 * D + c]);
      uint32_t u = (uint32_t)ctx[i * 64 + 32 + c] << 16;
      float got;
      memcpy(&got, &u, 4);
      double dlt = fabs(got - o);
      maxd = dlt > maxd ? dlt : maxd;
    }
  }
  fprintf(stderr, "bf16 attention max |diff| %.4f\n", maxd);
  assert_true(maxd < 0.03);
  free(qkv);
  free(scr);
}

/* f32 -> bf16 rounds to nearest, ties to even (native or generic path). */
static void test_to_bf16(void **st) {
  (void)st;
  unsigned s = 3;
  float x[1000];
  uint16_t got[1000];
  for (int i = 0; i < 1000; i++) x[i] = rnd(&s) * 100.0f;
  x[0] = 1.0f + 1.0f / 256.0f;                 /* exact tie: rounds to even (1.0) */
  x[1] = 1.0f + 3.0f / 256.0f;                 /* tie: rounds up to 1 + 2/128 */
  x[2] = -0.0f;
  hx__to_bf16(x, got, 1000);
  for (int i = 0; i < 1000; i++) {
    uint32_t u;
    memcpy(&u, &x[i], 4);
    uint32_t lo = u & 0xffff, hi = u >> 16;
    uint16_t want = (uint16_t)(lo > 0x8000 || (lo == 0x8000 && (hi & 1)) ? hi + 1 : hi);
    assert_int_equal(got[i], want);
  }
  assert_int_equal(got[0], 0x3f80);
  assert_int_equal(got[1], 0x3f82);
  assert_int_equal(got[2], 0x8000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_exp),
    cmocka_unit_test(test_gelu),
    cmocka_unit_test(test_layernorm),
    cmocka_unit_test(test_attention),
    cmocka_unit_test(test_to_bf16),
    cmocka_unit_test(test_attention_bf16),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
