/*
 * mock.h - the original service's mock embedding, bit for bit.
 *
 * The original computed numpy.random.default_rng(seed).random(n).astype(float32)
 * with seed = big-endian u32 of the first 4 bytes of SHA-256 of
 * "{org_id}:{asset_id}:{segment_id}:mock:v1". We reimplement NumPy's
 * SeedSequence -> PCG64 (XSL-RR 128/64) -> (next64 >> 11) * 2^-53 pipeline so
 * the vectors are identical without Python.
 */
#ifndef HX_EMBED_MOCK_H
#define HX_EMBED_MOCK_H

#include <stddef.h>
#include <stdint.h>

#define HX_MOCK_MODEL "mock"
#define HX_MOCK_MODEL_VER "v1"

/* NumPy default_rng(seed).random(n) cast to float32, for a u32 seed. */
void hx_mock_random(uint32_t seed, float *out, size_t n);

/* Seed of the mock vector for the given seed string (the point-id string). */
uint32_t hx_mock_seed(const char *seed_string, size_t len);

#endif
