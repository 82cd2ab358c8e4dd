/*
 * distance.h - distance kernels of the vector engine, chosen once at run time.
 *
 * Why it exists: distance computations are the engine's hot loop. The graph and
 * the scans call through this table so that the kernel matching the CPU
 * (AVX-512, AVX2+FMA, or portable C) is picked once by __builtin_cpu_supports,
 * and so that kernels live apart from graph code (as hnswlib's space_*.h).
 *
 * Contract: all kernels accept any length n (tails handled), unaligned input.
 * dot = sum a[i]*b[i]; l2 = sum (a[i]-b[i])^2 (squared, no sqrt);
 * dot_u8 = sum a[i]*b[i] over uint8 codes; l2_u8 = sum (a[i]-b[i])^2 over codes;
 * dot_u8s8 = sum a[i]*b[i] with a unsigned, b signed (int8 search: query codes
 * unsigned, stored codes shifted by -128, one VNNI instruction per 64 codes);
 * dot_u8s8_batch = dot_u8s8 of one query code q against n stored codes, the
 * i-th at base + ids[i]*stride, into out[i]: the int8 graph walk and filtered
 * scan hand a whole list of neighbours or candidates to one call (no call per
 * point; the AVX-512 kernel streams four codes against each query chunk).
 * hamming = popcount(a xor b) over n 64-bit words.
 */
#ifndef HX_VEC_DISTANCE_H
#define HX_VEC_DISTANCE_H

#include <stddef.h>
#include <stdint.h>

typedef struct hx__vec_kernels {
  const char *name;
  float (*dot)(const float *a, const float *b, size_t n);
  float (*l2)(const float *a, const float *b, size_t n);
  uint32_t (*dot_u8)(const uint8_t *a, const uint8_t *b, size_t n);
  uint32_t (*l2_u8)(const uint8_t *a, const uint8_t *b, size_t n);
  int32_t (*dot_u8s8)(const uint8_t *a, const int8_t *b, size_t n);
  void (*dot_u8s8_batch)(const uint8_t *base, size_t stride, const uint32_t *ids, size_t n,
                         const int8_t *q, size_t dim, int32_t *out);
  uint32_t (*hamming)(const uint64_t *a, const uint64_t *b, size_t nwords);
} hx__vec_kernels;

/* The best kernels for this CPU (HX_VEC_KERNELS=portable|avx2|avx512 forces one). */
const hx__vec_kernels *hx__vec_kernels_get(void);
/* A specific set, or NULL if this CPU/build lacks it; for tests comparing kernels. */
const hx__vec_kernels *hx__vec_kernels_named(const char *name);

/* popcount(a xor b) in C; shared by the sets without a vector popcount. */
uint32_t hx__vec_hamming_portable(const uint64_t *a, const uint64_t *b, size_t nwords);

/* Provided by distance_avx2.c / distance_avx512.c (compiled with their own flags). */
extern const hx__vec_kernels hx__vec_kernels_avx2;
extern const hx__vec_kernels hx__vec_kernels_avx512;

#endif
