/*
 * distance.c - portable distance kernels and the run-time choice of a kernel set.
 *
 * The portable kernels are the reference the SIMD ones are tested against; the
 * choice is made once (first call) from __builtin_cpu_supports, so one binary
 * runs on any x86-64 and uses AVX-512 where the machine has it.
 */
#include "vec/distance.h"

#include <stdlib.h>
#include <string.h>

static float p_dot(const float *a, const float *b, size_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

static float p_l2(const float *a, const float *b, size_t n) {
  float s0 = 0, s1 = 0;
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
    s0 += d0 * d0;
    s1 += d1 * d1;
  }
  for (; i < n; i++) {
    float d = a[i] - b[i];
    s0 += d * d;
  }
  return s0 + s1;
}

static uint32_t p_dot_u8(const uint8_t *a, const uint8_t *b, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i < n; i++) s += (uint32_t)a[i] * b[i];
  return s;
}

static int32_t p_dot_u8s8(const uint8_t *a, const int8_t *b, size_t n) {
  int32_t s = 0;
  for (size_t i = 0; i < n; i++) s += (int32_t)a[i] * b[i];
  return s;
}

static void p_dot_u8s8_batch(const uint8_t *base, size_t stride, const uint32_t *ids, size_t n,
                             const int8_t *q, size_t dim, int32_t *out) {
  for (size_t i = 0; i < n; i++) out[i] = p_dot_u8s8(base + (size_t)ids[i] * stride, q, dim);
}

static uint32_t p_l2_u8(const uint8_t *a, const uint8_t *b, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i < n; i++) {
    int d = (int)a[i] - (int)b[i];
    s += (uint32_t)(d * d);
  }
  return s;
}

uint32_t hx__vec_hamming_portable(const uint64_t *a, const uint64_t *b, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i < n; i++) s += (uint32_t)__builtin_popcountll(a[i] ^ b[i]);
  return s;
}

static const hx__vec_kernels portable = {"portable", p_dot, p_l2, p_dot_u8, p_l2_u8, p_dot_u8s8,
                                         p_dot_u8s8_batch, hx__vec_hamming_portable};

const hx__vec_kernels *hx__vec_kernels_named(const char *name) {
  __builtin_cpu_init();
  if (!strcmp(name, "portable")) return &portable;
  if (!strcmp(name, "avx2"))
    return (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? &hx__vec_kernels_avx2
                                                                            : NULL;
  if (!strcmp(name, "avx512"))
    return (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("avx512vnni"))
               ? &hx__vec_kernels_avx512
               : NULL;
  return NULL;
}

const hx__vec_kernels *hx__vec_kernels_get(void) {
  static const hx__vec_kernels *chosen;
  const hx__vec_kernels *k = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
  if (k) return k;
  const char *force = getenv("HX_VEC_KERNELS");
  if (force) k = hx__vec_kernels_named(force);
  if (!k) k = hx__vec_kernels_named("avx512");
  if (!k) k = hx__vec_kernels_named("avx2");
  if (!k) k = &portable;
  __atomic_store_n(&chosen, k, __ATOMIC_RELEASE);
  return k;
}
