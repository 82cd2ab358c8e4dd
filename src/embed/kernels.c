/*
 * kernels.c - vectorisable loops for exp, GELU, LayerNorm and one attention
 * head (contracts in kernels.h). Written as plain C the compiler can turn
 * into SIMD: no calls to libm inside the loops, branch-free polynomials.
 */
#include "embed/kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define HX_CLONES __attribute__((target_clones("avx512f", "avx2,fma", "default")))

/* Cephes-style expf: x = n ln2 + r, e^r by a degree-6 polynomial, 2^n by
 * building the exponent bits. */
static inline float expf_fast(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  float n = floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float z = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * z + r + 1.0f;
  union { uint32_t u; float f; } s;
  s.u = (uint32_t)((int32_t)n + 127) << 23;
  return p * s.f;
}

static inline float gelu(float x) {
  float z = x * 0.70710678118654752f;
  float a = fabsf(z);
  float t = 1.0f / (1.0f + 0.3275911f * a);
  float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t +
                0.254829592f) * t;
  float e = 1.0f - poly * expf_fast(-a * a);
  e = z < 0 ? -e : e;
  return 0.5f * x * (1.0f + e);
}

HX_CLONES void hx__kern_exp(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = expf_fast(x[i]);
}

HX_CLONES void hx__kern_bias_gelu(float *x, const float *bias, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = gelu(x[i] + bias[i]);
}

HX_CLONES void hx__kern_add_layernorm(float *x, const float *y, const float *bias, const float *g,
                                      const float *b, size_t n, float eps) {
  float sum = 0, sq = 0;
  if (y) {
    for (size_t i = 0; i < n; i++) x[i] += y[i] + bias[i];
  } else if (bias) {
    for (size_t i = 0; i < n; i++) x[i] += bias[i];
  }
  for (size_t i = 0; i < n; i++) sum += x[i];
  float mean = sum / (float)n;
  for (size_t i = 0; i < n; i++) {
    float c = x[i] - mean;
    sq += c * c;
  }
  float inv = 1.0f / sqrtf(sq / (float)n + eps);
  for (size_t i = 0; i < n; i++) x[i] = (x[i] - mean) * inv * g[i] + b[i];
}

HX_CLONES void hx__kern_attention(const float *q, const float *k, const float *v, size_t stride,
                                  const float *bq, const float *bk, const float *bv, int L, int d,
                                  float scale, float *ctx, size_t cstride, float *scratch) {
  float *kt = scratch;               /* [d][L]: keys transposed, bias added */
  float *vv = kt + (size_t)d * L;    /* [L][d]: values, bias added */
  float *s = vv + (size_t)L * d;     /* [L]: one row of scores */
  float qi[256], acc[256];

  for (int j = 0; j < L; j++) {
    const float *kr = k + (size_t)j * stride, *vr = v + (size_t)j * stride;
    for (int c = 0; c < d; c++) {
      kt[(size_t)c * L + j] = kr[c] + bk[c];
      vv[(size_t)j * d + c] = vr[c] + bv[c];
    }
  }
  for (int i = 0; i < L; i++) {
    const float *qr = q + (size_t)i * stride;
    for (int c = 0; c < d; c++) qi[c] = (qr[c] + bq[c]) * scale;
    for (int j = 0; j < L; j++) s[j] = 0;
    for (int c = 0; c < d; c++) {
      const float *kc = kt + (size_t)c * L;
      float qc = qi[c];
      for (int j = 0; j < L; j++) s[j] += qc * kc[j];
    }
    float m = s[0];
    for (int j = 1; j < L; j++) m = s[j] > m ? s[j] : m;
    float sum = 0;
    for (int j = 0; j < L; j++) {
      s[j] = expf_fast(s[j] - m);
      sum += s[j];
    }
    for (int c = 0; c < d; c++) acc[c] = 0;
    for (int j = 0; j < L; j++) {
      const float *vr = vv + (size_t)j * d;
      float p = s[j];
      for (int c = 0; c < d; c++) acc[c] += p * vr[c];
    }
    float inv = 1.0f / sum;
    float *o = ctx + (size_t)i * cstride;
    for (int c = 0; c < d; c++) o[c] = acc[c] * inv;
  }
}
