/*
 * distance_avx512.c - AVX-512 (F, BW, VPOPCNTDQ, VNNI) distance kernels, compiled with
 * those flags for this file only; chosen at run time when the CPU has them.
 * Tails use masked loads, so no scalar loop is needed.
 */
#include "vec/distance.h"

#include <immintrin.h>

static float a5_dot(const float *a, const float *b, size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i < n; i += 16) {
    __mmask16 m = (n - i >= 16) ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static float a5_l2(const float *a, const float *b, size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    s0 = _mm512_fmadd_ps(d0, d0, s0);
    s1 = _mm512_fmadd_ps(d1, d1, s1);
  }
  for (; i < n; i += 16) {
    __mmask16 m = (n - i >= 16) ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    s0 = _mm512_fmadd_ps(d, d, s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static inline __mmask32 mask32(size_t left) {
  return left >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << left) - 1);
}

static uint32_t a5_dot_u8(const uint8_t *a, const uint8_t *b, size_t n) {
  __m512i s = _mm512_setzero_si512();
  for (size_t i = 0; i < n; i += 32) {
    __mmask32 m = mask32(n - i);
    __m512i x = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, a + i));
    __m512i y = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, b + i));
    s = _mm512_add_epi32(s, _mm512_madd_epi16(x, y));
  }
  return (uint32_t)_mm512_reduce_add_epi32(s);
}

static uint32_t a5_l2_u8(const uint8_t *a, const uint8_t *b, size_t n) {
  __m512i s = _mm512_setzero_si512();
  for (size_t i = 0; i < n; i += 32) {
    __mmask32 m = mask32(n - i);
    __m512i x = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, a + i));
    __m512i y = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, b + i));
    __m512i d = _mm512_sub_epi16(x, y);
    s = _mm512_add_epi32(s, _mm512_madd_epi16(d, d));
  }
  return (uint32_t)_mm512_reduce_add_epi32(s);
}

static int32_t a5_dot_u8s8(const uint8_t *a, const int8_t *b, size_t n) {
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
    s1 = _mm512_dpbusd_epi32(s1, _mm512_loadu_si512(a + i + 64), _mm512_loadu_si512(b + i + 64));
  }
  for (; i < n; i += 64) {
    __mmask64 m = (n - i >= 64) ? ~(__mmask64)0 : (((__mmask64)1 << (n - i)) - 1);
    s0 = _mm512_dpbusd_epi32(s0, _mm512_maskz_loadu_epi8(m, a + i), _mm512_maskz_loadu_epi8(m, b + i));
  }
  return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

/* Four codes per pass: each 64-byte query chunk is loaded once for four
 * vpdpbusd, and the four streams of loads are independent, so their misses
 * overlap. The four sums are reduced together (two unpack levels, then one
 * 128-bit lane sum), not with four separate horizontal reductions. */
static inline __m128i reduce4(__m512i s0, __m512i s1, __m512i s2, __m512i s3) {
  __m512i a = _mm512_add_epi32(_mm512_unpacklo_epi32(s0, s1), _mm512_unpackhi_epi32(s0, s1)); /* s0 s1 s0 s1 per lane */
  __m512i b = _mm512_add_epi32(_mm512_unpacklo_epi32(s2, s3), _mm512_unpackhi_epi32(s2, s3)); /* s2 s3 s2 s3 */
  __m512i c = _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));     /* s0 s1 s2 s3 */
  __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(c), _mm512_extracti64x4_epi64(c, 1));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

static void a5_dot_u8s8_batch(const uint8_t *base, size_t stride, const uint32_t *ids, size_t n,
                              const int8_t *q, size_t dim, int32_t *out) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint8_t *c0 = base + (size_t)ids[i] * stride, *c1 = base + (size_t)ids[i + 1] * stride;
    const uint8_t *c2 = base + (size_t)ids[i + 2] * stride, *c3 = base + (size_t)ids[i + 3] * stride;
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t j = 0; j < dim; j += 64) {
      __mmask64 m = (dim - j >= 64) ? ~(__mmask64)0 : (((__mmask64)1 << (dim - j)) - 1);
      __m512i qj = _mm512_maskz_loadu_epi8(m, q + j);
      s0 = _mm512_dpbusd_epi32(s0, _mm512_maskz_loadu_epi8(m, c0 + j), qj);
      s1 = _mm512_dpbusd_epi32(s1, _mm512_maskz_loadu_epi8(m, c1 + j), qj);
      s2 = _mm512_dpbusd_epi32(s2, _mm512_maskz_loadu_epi8(m, c2 + j), qj);
      s3 = _mm512_dpbusd_epi32(s3, _mm512_maskz_loadu_epi8(m, c3 + j), qj);
    }
    _mm_storeu_si128((__m128i *)(out + i), reduce4(s0, s1, s2, s3));
  }
  for (; i < n; i++) out[i] = a5_dot_u8s8(base + (size_t)ids[i] * stride, q, dim);
}

static uint32_t a5_hamming(const uint64_t *a, const uint64_t *b, size_t n) {
  __m512i s = _mm512_setzero_si512();
  for (size_t i = 0; i < n; i += 8) {
    __mmask8 m = (n - i >= 8) ? (__mmask8)0xff : (__mmask8)((1u << (n - i)) - 1);
    __m512i x = _mm512_xor_si512(_mm512_maskz_loadu_epi64(m, a + i), _mm512_maskz_loadu_epi64(m, b + i));
    s = _mm512_add_epi64(s, _mm512_popcnt_epi64(x));
  }
  return (uint32_t)_mm512_reduce_add_epi64(s);
}

const hx__vec_kernels hx__vec_kernels_avx512 = {"avx512", a5_dot, a5_l2, a5_dot_u8, a5_l2_u8, a5_dot_u8s8,
                                                a5_dot_u8s8_batch, a5_hamming};
