/*
 * distance_avx2.c - AVX2+FMA distance kernels (compiled with -mavx2 -mfma only
 * for this file; called only when the CPU has them, see distance.c).
 */
#include "vec/distance.h"

#include <immintrin.h>

static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

static inline uint32_t hsum256i(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return (uint32_t)_mm_cvtsi128_si32(s);
}

static float a2_dot(const float *a, const float *b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum256(_mm256_add_ps(s0, s1));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

static float a2_l2(const float *a, const float *b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
  }
  for (; i + 8 <= n; i += 8) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
  }
  float s = hsum256(_mm256_add_ps(s0, s1));
  for (; i < n; i++) {
    float d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

static uint32_t a2_dot_u8(const uint8_t *a, const uint8_t *b, size_t n) {
  __m256i s = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
    __m256i y = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
    s = _mm256_add_epi32(s, _mm256_madd_epi16(x, y));
  }
  uint32_t r = hsum256i(s);
  for (; i < n; i++) r += (uint32_t)a[i] * b[i];
  return r;
}

static int32_t a2_dot_u8s8(const uint8_t *a, const int8_t *b, size_t n) {
  __m256i s = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
    __m256i y = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
    s = _mm256_add_epi32(s, _mm256_madd_epi16(x, y));
  }
  int32_t r = (int32_t)hsum256i(s);
  for (; i < n; i++) r += (int32_t)a[i] * b[i];
  return r;
}

static void a2_dot_u8s8_batch(const uint8_t *base, size_t stride, const uint32_t *ids, size_t n,
                              const int8_t *q, size_t dim, int32_t *out) {
  for (size_t i = 0; i < n; i++) out[i] = a2_dot_u8s8(base + (size_t)ids[i] * stride, q, dim);
}

static uint32_t a2_l2_u8(const uint8_t *a, const uint8_t *b, size_t n) {
  __m256i s = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
    __m256i y = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
    __m256i d = _mm256_sub_epi16(x, y);
    s = _mm256_add_epi32(s, _mm256_madd_epi16(d, d));
  }
  uint32_t r = hsum256i(s);
  for (; i < n; i++) {
    int d = (int)a[i] - (int)b[i];
    r += (uint32_t)(d * d);
  }
  return r;
}

const hx__vec_kernels hx__vec_kernels_avx2 = {"avx2", a2_dot, a2_l2, a2_dot_u8, a2_l2_u8, a2_dot_u8s8,
                                              a2_dot_u8s8_batch, hx__vec_hamming_portable};
