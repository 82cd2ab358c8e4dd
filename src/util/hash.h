/*
 * hash.h - SHA-256 (libcrypto), HMAC-SHA256, hex and base64url helpers.
 * Everything here is pure and thread-safe.
 */
#ifndef HX_UTIL_HASH_H
#define HX_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

void hx_sha256(const void *data, size_t len, uint8_t out[32]);
void hx_hmac_sha256(const void *key, size_t klen, const void *data, size_t len, uint8_t out[32]);

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void hx_hex(const uint8_t *in, size_t n, char *out);

/* base64url without padding. Encode: out needs 4*ceil(n/3)+1 bytes; returns length.
 * Decode: out needs 3*n/4+3 bytes; returns decoded length or -1 on a bad
 * character or impossible length (padding '=' is rejected, as JWS requires). */
size_t hx_b64url_encode(const uint8_t *in, size_t n, char *out);
long hx_b64url_decode(const char *in, size_t n, uint8_t *out);

/* FNV-1a (64-bit) of n bytes continued from h; start with HX_FNV1A64_INIT.
 * For hash tables and feature hashing, never for anything adversarial. */
#define HX_FNV1A64_INIT 1469598103934665603ull
static inline uint64_t hx_fnv1a64(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

/* Constant-time comparison of two equal-length buffers (0 = equal). */
int hx_ct_memcmp(const void *a, const void *b, size_t n);

#endif
