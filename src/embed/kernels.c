/*
 * kernels.c - vectorisable loops for exp, GELU, LayerNorm and one attention
 * head (contracts in kernels.h). Written as plain C the compiler can turn
 * into SIMD: no calls to libm inside the loops, branch-free polynomials.
 */
#include "embed/kernels.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define HX_CLONES __attribute__((target_clones("avx512f", "avx2,fma", "default")))

/* Cephes-style expf: x = n ln2 + r, e^r by a degree-6 polynomial, 2^n by
 * building the exponent bits. n is rounded with the 1.5 * 2^23 trick rather
 * than floorf, which GCC would leave as a libm call and not vectorise. */
static inline float expf_fast(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
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

HX_CLONES static void bias_gelu_generic(float *x, const float *bias, size_t n) {
  if (bias)
    for (size_t i = 0; i < n; i++) x[i] = gelu(x[i] + bias[i]);
  else
    for (size_t i = 0; i < n; i++) x[i] = gelu(x[i]);
}

/* expf_fast on 16 lanes: same polynomial, 2^n applied with vscalefps. */
__attribute__((target("avx512f"))) static inline __m512 exp512(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.0f)), _mm512_set1_ps(-87.0f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 z = _mm512_mul_ps(r, r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, z, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

/* gelu() on 16 lanes with the same erf and exp (exp512), written out: FMAs,
 * the division 1 / (1 + p|z|) as vrcp14ps plus one Newton step (relative
 * error ~2^-28). About 30 instructions per 16 values: 0.30 ns per value on
 * one core here, against 1.26 ns for GCC's vectorisation of gelu() (no FMA
 * in the avx512f clone, vdivps, masked range checks). Serves the plain-sgemm path; the packed
 * path has GELU inside the GEMM. */
__attribute__((target("avx512f"))) static inline __m512 gelu16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 a = _mm512_abs_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f)));
  __m512 den = _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), one);
  __m512 t = _mm512_rcp14_ps(den);
  t = _mm512_mul_ps(t, _mm512_fnmadd_ps(den, t, _mm512_set1_ps(2.0f)));
  __m512 poly = _mm512_fmadd_ps(_mm512_set1_ps(1.061405429f), t, _mm512_set1_ps(-1.453152027f));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(1.421413741f));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-0.284496736f));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(0.254829592f));
  poly = _mm512_mul_ps(poly, t);
  __m512 e = _mm512_fnmadd_ps(poly, exp512(_mm512_fnmadd_ps(a, a, _mm512_setzero_ps())), one); /* erf(|z|) */
  e = _mm512_castsi512_ps(_mm512_xor_si512(
      _mm512_castps_si512(e),
      _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))));
  __m512 h = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
  return _mm512_fmadd_ps(h, e, h);
}

__attribute__((target("avx512f"))) static void bias_gelu_avx512(float *x, const float *bias, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + i));
    _mm512_storeu_ps(x + i, gelu16(v));
  }
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + i));
    _mm512_mask_storeu_ps(x + i, m, gelu16(v));
  }
}

void hx__kern_bias_gelu(float *x, const float *bias, size_t n) {
  if (__builtin_cpu_supports("avx512f")) bias_gelu_avx512(x, bias, n);
  else bias_gelu_generic(x, bias, n);
}

HX_CLONES void hx__kern_add_layernorm(float *x, const float *y, const float *bias, const float *g,
                                      const float *b, size_t n, float eps) {
  float ps[16] = {0}, pq[16] = {0}, sum = 0, sq = 0;
  size_t i, n16 = n & ~(size_t)15;
  if (y) {
    for (i = 0; i < n; i++) x[i] += y[i] + bias[i];
  } else if (bias) {
    for (i = 0; i < n; i++) x[i] += bias[i];
  }
  /* 16 independent partial sums: vectorises without -ffast-math */
  for (i = 0; i < n16; i += 16)
    for (int l = 0; l < 16; l++) ps[l] += x[i + l];
  for (int l = 0; l < 16; l++) sum += ps[l];
  for (; i < n; i++) sum += x[i];
  float mean = sum / (float)n;
  for (i = 0; i < n16; i += 16)
    for (int l = 0; l < 16; l++) {
      float c = x[i + l] - mean;
      pq[l] += c * c;
    }
  for (int l = 0; l < 16; l++) sq += pq[l];
  for (; i < n; i++) sq += (x[i] - mean) * (x[i] - mean);
  float inv = 1.0f / sqrtf(sq / (float)n + eps);
  for (i = 0; i < n; i++) x[i] = (x[i] - mean) * inv * g[i] + b[i];
}

HX_CLONES static void attention_generic(const float *q, const float *k, const float *v, size_t stride,
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

/* Lanes j .. j+15 that are real keys (j < L). */
static inline __mmask16 key_mask(int j, int L) {
  return j + 16 <= L ? (__mmask16)0xffff : j >= L ? (__mmask16)0 : (__mmask16)((1u << (L - j)) - 1);
}

__attribute__((target("avx512f"))) static inline void store4(float *s, int Lp, int j, __m512 a0,
                                                             __m512 a1, __m512 a2, __m512 a3) {
  _mm512_storeu_ps(s + j, a0);
  _mm512_storeu_ps(s + Lp + j, a1);
  _mm512_storeu_ps(s + 2 * (size_t)Lp + j, a2);
  _mm512_storeu_ps(s + 3 * (size_t)Lp + j, a3);
}

/* Softmax numerators of four score rows in place (keys >= L become 0);
 * inv[r] = 1 / row sum. */
__attribute__((target("avx512f"))) static inline void softmax4(float *s, int Lp, int L, float inv[4]) {
  for (int r = 0; r < 4; r++) {
    float *sr = s + (size_t)r * Lp;
    __m512 mx = _mm512_set1_ps(-3.0e38f), sum = _mm512_setzero_ps();
    for (int j = 0; j < L; j += 16)
      mx = _mm512_mask_max_ps(mx, key_mask(j, L), mx, _mm512_loadu_ps(sr + j));
    __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    for (int j = 0; j < Lp; j += 16) {
      __m512 e = _mm512_maskz_mov_ps(key_mask(j, L), exp512(_mm512_sub_ps(_mm512_loadu_ps(sr + j), m)));
      _mm512_storeu_ps(sr + j, e);
      sum = _mm512_add_ps(sum, e);
    }
    inv[r] = 1.0f / _mm512_reduce_add_ps(sum);
  }
}

/* r[i][c] -> r[c][i] for a 16 x 16 block (unpack, shuffle, two lane-block
 * shuffle stages). */
__attribute__((target("avx512f"))) static inline void tr16(__m512 r[16]) {
  __m512 t[16], u[16], v[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {
    u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int i = 0; i < 2; i++)
    for (int k = 0; k < 4; k++) {
      v[8 * i + k] = _mm512_shuffle_f32x4(u[8 * i + k], u[8 * i + 4 + k], 0x88);
      v[8 * i + 4 + k] = _mm512_shuffle_f32x4(u[8 * i + k], u[8 * i + 4 + k], 0xDD);
    }
  for (int k = 0; k < 8; k++) {
    r[k] = _mm512_shuffle_f32x4(v[k], v[8 + k], 0x88);
    r[8 + k] = _mm512_shuffle_f32x4(v[k], v[8 + k], 0xDD);
  }
}

/* AVX-512 attention for head sizes that are multiples of 16 (MiniLM, BGE,
 * E5: 32 or 64). Four query rows at a time: scores for 16 keys accumulate in
 * registers over the head dimension (one key load feeds four FMAs), and the
 * context rows accumulate p * v the same way. Keys are transposed into kt
 * with the row length rounded up to 16; the padding columns are never read
 * by the softmax (only the first L scores are used). */
__attribute__((target("avx512f"))) static void attention_avx512(
    const float *q, const float *k, const float *v, size_t stride, const float *bq, const float *bk,
    const float *bv, int L, int d, float scale, float *ctx, size_t cstride, float *scratch) {
  const int Lp = (L + 31) & ~31;
  float *kt = scratch;                      /* [d][Lp] */
  float *vv = kt + (size_t)d * Lp;          /* [L][d] */
  float *s = vv + (size_t)L * d;            /* [4][Lp] */
  float qs[4][256];

  /* q's rows (a GEMM output beyond L2, 4.6 KB apart for MiniLM) are read
   * last: ask for the first blocks now, while k and v are copied, and for
   * each later block two blocks ahead (see the loop) */
  for (int j = 0; j < L && j < 8; j++)
    for (int c = 0; c < d; c += 16) _mm_prefetch((const char *)(q + (size_t)j * stride + c), _MM_HINT_T0);
  /* k's bias is left out: it adds q_i . bk to every score of row i, which
   * the softmax cancels */
  (void)bk;
  for (int j0 = 0; j0 < Lp; j0 += 16)
    for (int c0 = 0; c0 < d; c0 += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; i++)
        r[i] = j0 + i < L ? _mm512_loadu_ps(k + (size_t)(j0 + i) * stride + c0) : _mm512_setzero_ps();
      tr16(r);
      for (int i = 0; i < 16; i++) _mm512_storeu_ps(kt + (size_t)(c0 + i) * Lp + j0, r[i]);
    }
  for (int j = 0; j < L; j++)
    for (int c = 0; c < d; c += 16)
      _mm512_storeu_ps(vv + (size_t)j * d + c,
                       _mm512_add_ps(_mm512_loadu_ps(v + (size_t)j * stride + c), _mm512_loadu_ps(bv + c)));

  const __m512 vscale = _mm512_set1_ps(scale);
  for (int i0 = 0; i0 < L; i0 += 4) {
    const int R = L - i0 < 4 ? L - i0 : 4;
    for (int j = i0 + 8; j < i0 + 12 && j < L; j++)
      for (int c = 0; c < d; c += 16) _mm_prefetch((const char *)(q + (size_t)j * stride + c), _MM_HINT_T0);
    for (int r = 0; r < 4; r++) {
      const float *qr = q + (size_t)(i0 + (r < R ? r : 0)) * stride;
      for (int c = 0; c < d; c += 16)
        _mm512_storeu_ps(qs[r] + c, _mm512_mul_ps(_mm512_add_ps(_mm512_loadu_ps(qr + c), _mm512_loadu_ps(bq + c)), vscale));
    }
    /* two key blocks at a time: eight independent accumulator chains keep
     * both FMA pipes busy despite the FMA latency */
    for (int j0 = 0; j0 < Lp; j0 += 32) {
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      for (int c = 0; c < d; c++) {
        __m512 kv = _mm512_loadu_ps(kt + (size_t)c * Lp + j0);
        __m512 kw = _mm512_loadu_ps(kt + (size_t)c * Lp + j0 + 16);
        __m512 q0 = _mm512_set1_ps(qs[0][c]), q1 = _mm512_set1_ps(qs[1][c]);
        __m512 q2 = _mm512_set1_ps(qs[2][c]), q3 = _mm512_set1_ps(qs[3][c]);
        a0 = _mm512_fmadd_ps(q0, kv, a0);
        a1 = _mm512_fmadd_ps(q1, kv, a1);
        a2 = _mm512_fmadd_ps(q2, kv, a2);
        a3 = _mm512_fmadd_ps(q3, kv, a3);
        b0 = _mm512_fmadd_ps(q0, kw, b0);
        b1 = _mm512_fmadd_ps(q1, kw, b1);
        b2 = _mm512_fmadd_ps(q2, kw, b2);
        b3 = _mm512_fmadd_ps(q3, kw, b3);
      }
      store4(s, Lp, j0, a0, a1, a2, a3);
      store4(s, Lp, j0 + 16, b0, b1, b2, b3);
    }
    float inv[4];
    softmax4(s, Lp, L, inv);
    for (int cb = 0; cb < d; cb += 32) {
      const int two = d - cb >= 32;
      __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
             c30 = c00, c31 = c00;
      for (int j = 0; j < L; j++) {
        const float *vr = vv + (size_t)j * d + cb;
        __m512 v0 = _mm512_loadu_ps(vr), v1 = two ? _mm512_loadu_ps(vr + 16) : _mm512_setzero_ps();
        __m512 p0 = _mm512_set1_ps(s[j]), p1 = _mm512_set1_ps(s[Lp + j]);
        __m512 p2 = _mm512_set1_ps(s[2 * Lp + j]), p3 = _mm512_set1_ps(s[3 * Lp + j]);
        c00 = _mm512_fmadd_ps(p0, v0, c00);
        c01 = _mm512_fmadd_ps(p0, v1, c01);
        c10 = _mm512_fmadd_ps(p1, v0, c10);
        c11 = _mm512_fmadd_ps(p1, v1, c11);
        c20 = _mm512_fmadd_ps(p2, v0, c20);
        c21 = _mm512_fmadd_ps(p2, v1, c21);
        c30 = _mm512_fmadd_ps(p3, v0, c30);
        c31 = _mm512_fmadd_ps(p3, v1, c31);
      }
      __m512 acc[4][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
      for (int r = 0; r < R; r++) {
        float *o = ctx + (size_t)(i0 + r) * cstride + cb;
        __m512 sc = _mm512_set1_ps(inv[r]);
        _mm512_storeu_ps(o, _mm512_mul_ps(acc[r][0], sc));
        if (two) _mm512_storeu_ps(o + 16, _mm512_mul_ps(acc[r][1], sc));
      }
    }
  }
}

void hx__kern_attention(const float *q, const float *k, const float *v, size_t stride,
                        const float *bq, const float *bk, const float *bv, int L, int d,
                        float scale, float *ctx, size_t cstride, float *scratch) {
  /* __builtin_cpu_supports reads data filled once at startup: no race */
  if (__builtin_cpu_supports("avx512f") && d % 16 == 0 && d <= 256)
    attention_avx512(q, k, v, stride, bq, bk, bv, L, d, scale, ctx, cstride, scratch);
  else
    attention_generic(q, k, v, stride, bq, bk, bv, L, d, scale, ctx, cstride, scratch);
}

/* ---- bf16 attention (reduced-precision mode) ----
 * Same algorithm with vdpbf16ps: q and k are rounded to bf16 and paired
 * along the head dimension (one instruction does two multiply-adds per
 * lane), probabilities and v are paired along the key dimension. Scores,
 * softmax and accumulation stay f32. The context is written as bf16, ready
 * for the output projection's bf16 GEMM. */

/* dst[c] = bf16((src[c] + bias[c]) * scale) for c < n (n a multiple of 16). */
__attribute__((target("avx512f,avx512bf16"))) static inline void row_bf16(const float *src,
                                                                          const float *bias,
                                                                          float scale, int n,
                                                                          uint16_t *dst) {
  for (int c = 0; c < n; c += 16) {
    __m512 x = _mm512_mul_ps(_mm512_add_ps(_mm512_loadu_ps(src + c), _mm512_loadu_ps(bias + c)),
                             _mm512_set1_ps(scale));
    _mm256_storeu_si256((__m256i *)(dst + c), (__m256i)_mm512_cvtneps_pbh(x));
  }
}

__attribute__((target("avx512f,avx512bf16"))) static void attention_bf16(
    const float *q, const float *k, const float *v, size_t stride, const float *bq, const float *bk,
    const float *bv, int L, int d, float scale, uint16_t *ctx, size_t cstride, float *scratch) {
  const int Lp = (L + 31) & ~31, dh = d / 2;
  uint32_t *ktp = (uint32_t *)scratch;            /* [d/2][Lp]: (k[j][2c], k[j][2c+1]) */
  uint32_t *vp = ktp + (size_t)dh * Lp;           /* [Lp/2][d]: (v[2j][c], v[2j+1][c]) */
  float *s = (float *)(vp + (size_t)(Lp / 2) * d); /* [4][Lp] */
  uint16_t *pb = (uint16_t *)(s + 4 * (size_t)Lp); /* [4][Lp] probabilities as bf16 */
  uint32_t qp[4][128];
  uint16_t r0[256], r1[256];

  for (int j = 0; j < Lp; j++) {
    if (j < L) row_bf16(k + (size_t)j * stride, bk, 1.0f, d, r0);
    else memset(r0, 0, (size_t)d * sizeof *r0);
    const uint32_t *w = (const uint32_t *)r0; /* adjacent bf16 pairs */
    for (int c = 0; c < dh; c++) ktp[(size_t)c * Lp + j] = w[c];
  }
  for (int j = 0; j < Lp; j += 2) {
    if (j < L) row_bf16(v + (size_t)j * stride, bv, 1.0f, d, r0);
    else memset(r0, 0, (size_t)d * sizeof *r0);
    if (j + 1 < L) row_bf16(v + (size_t)(j + 1) * stride, bv, 1.0f, d, r1);
    else memset(r1, 0, (size_t)d * sizeof *r1);
    uint32_t *o = vp + (size_t)(j / 2) * d;
    for (int c = 0; c < d; c++) o[c] = (uint32_t)r0[c] | (uint32_t)r1[c] << 16;
  }
  for (int i0 = 0; i0 < L; i0 += 4) {
    const int R = L - i0 < 4 ? L - i0 : 4;
    for (int r = 0; r < 4; r++)
      row_bf16(q + (size_t)(i0 + (r < R ? r : 0)) * stride, bq, scale, d, (uint16_t *)qp[r]);
    for (int j0 = 0; j0 < Lp; j0 += 32) { /* eight accumulator chains, as in the f32 kernel */
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      for (int c = 0; c < dh; c++) {
        __m512bh kv = (__m512bh)_mm512_loadu_si512(ktp + (size_t)c * Lp + j0);
        __m512bh kw = (__m512bh)_mm512_loadu_si512(ktp + (size_t)c * Lp + j0 + 16);
        __m512bh q0 = (__m512bh)_mm512_set1_epi32((int)qp[0][c]), q1 = (__m512bh)_mm512_set1_epi32((int)qp[1][c]);
        __m512bh q2 = (__m512bh)_mm512_set1_epi32((int)qp[2][c]), q3 = (__m512bh)_mm512_set1_epi32((int)qp[3][c]);
        a0 = _mm512_dpbf16_ps(a0, q0, kv);
        a1 = _mm512_dpbf16_ps(a1, q1, kv);
        a2 = _mm512_dpbf16_ps(a2, q2, kv);
        a3 = _mm512_dpbf16_ps(a3, q3, kv);
        b0 = _mm512_dpbf16_ps(b0, q0, kw);
        b1 = _mm512_dpbf16_ps(b1, q1, kw);
        b2 = _mm512_dpbf16_ps(b2, q2, kw);
        b3 = _mm512_dpbf16_ps(b3, q3, kw);
      }
      store4(s, Lp, j0, a0, a1, a2, a3);
      store4(s, Lp, j0 + 16, b0, b1, b2, b3);
    }
    float inv[4];
    softmax4(s, Lp, L, inv);
    for (int r = 0; r < 4; r++)
      for (int j = 0; j < Lp; j += 16)
        _mm256_storeu_si256((__m256i *)(pb + (size_t)r * Lp + j),
                            (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(s + (size_t)r * Lp + j)));
    const uint32_t *p0 = (const uint32_t *)pb, *p1 = (const uint32_t *)(pb + Lp);
    const uint32_t *p2 = (const uint32_t *)(pb + 2 * Lp), *p3 = (const uint32_t *)(pb + 3 * Lp);
    for (int cb = 0; cb < d; cb += 32) {
      const int two = d - cb >= 32; /* 32 columns (8 chains) or the last 16 */
      __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, e0 = c0, e1 = c0, e2 = c0, e3 = c0;
      for (int jp = 0; jp < Lp / 2; jp++) {
        __m512bh vv = (__m512bh)_mm512_loadu_si512(vp + (size_t)jp * d + cb);
        __m512bh vw = two ? (__m512bh)_mm512_loadu_si512(vp + (size_t)jp * d + cb + 16)
                          : (__m512bh)_mm512_setzero_si512();
        __m512bh x0 = (__m512bh)_mm512_set1_epi32((int)p0[jp]), x1 = (__m512bh)_mm512_set1_epi32((int)p1[jp]);
        __m512bh x2 = (__m512bh)_mm512_set1_epi32((int)p2[jp]), x3 = (__m512bh)_mm512_set1_epi32((int)p3[jp]);
        c0 = _mm512_dpbf16_ps(c0, x0, vv);
        c1 = _mm512_dpbf16_ps(c1, x1, vv);
        c2 = _mm512_dpbf16_ps(c2, x2, vv);
        c3 = _mm512_dpbf16_ps(c3, x3, vv);
        e0 = _mm512_dpbf16_ps(e0, x0, vw);
        e1 = _mm512_dpbf16_ps(e1, x1, vw);
        e2 = _mm512_dpbf16_ps(e2, x2, vw);
        e3 = _mm512_dpbf16_ps(e3, x3, vw);
      }
      __m512 acc[4][2] = {{c0, e0}, {c1, e1}, {c2, e2}, {c3, e3}};
      for (int r = 0; r < R; r++) {
        uint16_t *o = ctx + (size_t)(i0 + r) * cstride + cb;
        __m512 sc = _mm512_set1_ps(inv[r]);
        _mm256_storeu_si256((__m256i *)o, (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(acc[r][0], sc)));
        if (two)
          _mm256_storeu_si256((__m256i *)(o + 16), (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(acc[r][1], sc)));
      }
    }
  }
}

int hx__kern_attention_bf16_ok(int d) {
  return __builtin_cpu_supports("avx512bf16") && d % 16 == 0 && d <= 256;
}

void hx__kern_attention_bf16(const float *q, const float *k, const float *v, size_t stride,
                             const float *bq, const float *bk, const float *bv, int L, int d,
                             float scale, uint16_t *ctx, size_t cstride, float *scratch) {
  attention_bf16(q, k, v, stride, bq, bk, bv, L, d, scale, ctx, cstride, scratch);
}
