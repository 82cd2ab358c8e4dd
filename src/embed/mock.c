/* mock.c - NumPy SeedSequence + PCG64 reimplementation for the mock vector. */
#include "embed/mock.h"
#include "util/hash.h"

typedef unsigned __int128 u128;

#define SS_INIT_A 0x43b0d7e5u
#define SS_MULT_A 0x931e8875u
#define SS_INIT_B 0x8b51f9ddu
#define SS_MULT_B 0x58f38dedu
#define SS_MIX_L 0xca01f9ddu
#define SS_MIX_R 0x4973f715u

static uint32_t hashmix(uint32_t v, uint32_t *hc) {
  v ^= *hc;
  *hc *= SS_MULT_A;
  v *= *hc;
  v ^= v >> 16;
  return v;
}

static uint32_t mix(uint32_t x, uint32_t y) {
  uint32_t r = SS_MIX_L * x - SS_MIX_R * y;
  r ^= r >> 16;
  return r;
}

/* SeedSequence(seed).generate_state(4, uint64) */
static void seed_sequence(uint32_t seed, uint64_t u64[4]) {
  uint32_t pool[4], hc = SS_INIT_A;
  for (int i = 0; i < 4; i++) pool[i] = hashmix(i == 0 ? seed : 0, &hc);
  for (int s = 0; s < 4; s++)
    for (int d = 0; d < 4; d++)
      if (s != d) pool[d] = mix(pool[d], hashmix(pool[s], &hc));
  uint32_t w[8], hb = SS_INIT_B;
  for (int i = 0; i < 8; i++) {
    uint32_t v = pool[i % 4] ^ hb;
    hb *= SS_MULT_B;
    v *= hb;
    v ^= v >> 16;
    w[i] = v;
  }
  for (int k = 0; k < 4; k++) u64[k] = (uint64_t)w[2 * k] | (uint64_t)w[2 * k + 1] << 32;
}

typedef struct { u128 state, inc; } pcg64;

static const u128 PCG_MULT = ((u128)0x2360ED051FC65DA4ull << 64) | 0x4385DF649FCCF645ull;

static void pcg_step(pcg64 *r) { r->state = r->state * PCG_MULT + r->inc; }

static uint64_t pcg_next64(pcg64 *r) {
  pcg_step(r);
  uint64_t hi = (uint64_t)(r->state >> 64), lo = (uint64_t)r->state;
  unsigned rot = (unsigned)(r->state >> 122);
  uint64_t x = hi ^ lo;
  return (x >> rot) | (x << ((64 - rot) & 63));
}

void hx_mock_random(uint32_t seed, float *out, size_t n) {
  uint64_t s[4];
  seed_sequence(seed, s);
  pcg64 r;
  r.state = 0;
  r.inc = ((((u128)s[2] << 64) | s[3]) << 1) | 1;
  pcg_step(&r);
  r.state += ((u128)s[0] << 64) | s[1];
  pcg_step(&r);
  for (size_t i = 0; i < n; i++)
    out[i] = (float)((double)(pcg_next64(&r) >> 11) * (1.0 / 9007199254740992.0));
}

uint32_t hx_mock_seed(const char *seed_string, size_t len) {
  uint8_t h[32];
  hx_sha256(seed_string, len, h);
  return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}
