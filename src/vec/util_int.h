/*
 * util_int.h - small private building blocks of the vector engine: a growable
 * byte buffer with a hard cap and little-endian encoders, a bounds-checked
 * reader (every decoder of log and snapshot bytes goes through it, so corrupt
 * input yields an error, never an out-of-bounds read), a string-keyed hash map,
 * a u32 vector, distance heaps, and CRC32C.
 *
 * Ownership: hx__buf owns its bytes (hx__buf_release frees them); hx__rd
 * borrows its input; hx__smap owns copies of its keys, never its values.
 */
#ifndef HX_VEC_UTIL_INT_H
#define HX_VEC_UTIL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- CRC32C (Castagnoli), hardware-accelerated when SSE4.2 is present ---- */
uint32_t hx__crc32c(uint32_t crc, const void *p, size_t n);

/* ---- growable byte buffer (cap: 2 GiB; a failed grow sets oom) ---- */
typedef struct hx__buf {
  uint8_t *p;
  size_t n, cap;
  int oom;
} hx__buf;

void hx__buf_release(hx__buf *b);
void hx__buf_put(hx__buf *b, const void *p, size_t n);
/* Makes room for n more bytes (one allocation instead of a doubling series). */
void hx__buf_reserve(hx__buf *b, size_t n);
static inline void hx__buf_u8(hx__buf *b, uint8_t v) { hx__buf_put(b, &v, 1); }
static inline void hx__buf_u16(hx__buf *b, uint16_t v) { hx__buf_put(b, &v, 2); }
static inline void hx__buf_u32(hx__buf *b, uint32_t v) { hx__buf_put(b, &v, 4); }
static inline void hx__buf_u64(hx__buf *b, uint64_t v) { hx__buf_put(b, &v, 8); }
static inline void hx__buf_str(hx__buf *b, const char *s, size_t n) {
  hx__buf_u32(b, (uint32_t)n);
  hx__buf_put(b, s, n);
}

/* ---- bounds-checked reader: after any failure every get returns 0 and bad=1 ---- */
typedef struct hx__rd {
  const uint8_t *p;
  size_t n, off;
  int bad;
} hx__rd;

static inline const void *hx__rd_take(hx__rd *r, size_t n) {
  if (r->bad || n > r->n - r->off) {
    r->bad = 1;
    return NULL;
  }
  const void *q = r->p + r->off;
  r->off += n;
  return q;
}
static inline uint8_t hx__rd_u8(hx__rd *r) {
  const uint8_t *q = hx__rd_take(r, 1);
  return q ? *q : 0;
}
static inline uint16_t hx__rd_u16(hx__rd *r) {
  uint16_t v = 0;
  const void *q = hx__rd_take(r, 2);
  if (q) memcpy(&v, q, 2);
  return v;
}
static inline uint32_t hx__rd_u32(hx__rd *r) {
  uint32_t v = 0;
  const void *q = hx__rd_take(r, 4);
  if (q) memcpy(&v, q, 4);
  return v;
}
static inline uint64_t hx__rd_u64(hx__rd *r) {
  uint64_t v = 0;
  const void *q = hx__rd_take(r, 8);
  if (q) memcpy(&v, q, 8);
  return v;
}
/* A length-prefixed string; *len receives its length. Not NUL-terminated. */
static inline const char *hx__rd_str(hx__rd *r, size_t *len) {
  uint32_t n = hx__rd_u32(r);
  const char *s = hx__rd_take(r, n);
  *len = s ? n : 0;
  return s;
}

/* ---- string-keyed open-addressing map; values are borrowed pointers ---- */
typedef struct hx__smap_ent {
  char *key; /* owned, NUL-terminated copy; NULL = empty slot */
  size_t klen;
  uint64_t hash;
  void *val;
} hx__smap_ent;

typedef struct hx__smap {
  hx__smap_ent *e;
  size_t cap, n;
} hx__smap;

uint64_t hx__hash(const void *p, size_t n);
void *hx__smap_get(const hx__smap *m, const char *k, size_t klen);
/* Inserts or replaces; returns 0 or -1 (out of memory). */
int hx__smap_put(hx__smap *m, const char *k, size_t klen, void *val);
/* Removes k, returns its value (or NULL). */
void *hx__smap_del(hx__smap *m, const char *k, size_t klen);
void hx__smap_release(hx__smap *m); /* frees keys and table, not values */
#define HX__SMAP_EACH(m, ent) \
  for (hx__smap_ent *ent = (m)->e; (m)->e && ent < (m)->e + (m)->cap; ent++) if (ent->key)

/* ---- vector of u32 ---- */
typedef struct hx__u32v {
  uint32_t *v;
  uint32_t n, cap;
} hx__u32v;
int hx__u32v_push(hx__u32v *a, uint32_t x);
/* Removes the first occurrence of x (order not kept). */
void hx__u32v_remove(hx__u32v *a, uint32_t x);
/* Sorts v ascending: one pass when already sorted (an index list in insertion
 * order), otherwise a radix sort (3 passes of 11 bits), with qsort only if the
 * scratch buffer cannot be had. A filtered search sorts its candidates (10,000
 * at 1M points for a 1% filter); qsort's comparator calls cost more than the
 * int8 scan of those candidates. */
void hx__sort_u32(uint32_t *v, size_t n);

/* ---- memory ---- */
/* The big arrays a search reads at random (vectors, codes, links) on 2 MB
 * pages (Linux THP in madvise mode): one TLB entry then covers 2 MB instead of
 * 4 KB, so a random vector costs a cache miss but no page walk.
 *
 * hx__huge_realloc: like realloc (p NULL allocates; bytes past the old size
 * are unspecified; NULL leaves p as it was). From 2 MB on, the array is a
 * mapping of its own whose data starts on a 2 MB boundary, advised before any
 * byte is touched, so it is faulted in 2 MB pages from the start. glibc's
 * realloc moves big blocks with mremap to an address of another 2 MB
 * alignment, which splits their huge pages; khugepaged then spent the next
 * minutes collapsing them again, stalling searches (p99 30 ms instead of
 * 14 ms for a minute after a 100k ingest). Under AddressSanitizer every size
 * stays on malloc, where ASan can check it. Free with hx__huge_free only. */
void *hx__huge_realloc(void *p, size_t n);
void hx__huge_free(void *p);
/* Madvise [p, p+n)'s whole 2 MB pages (the visited tags, from calloc). */
void hx__huge(void *p, size_t n);

/* ---- (distance, id) heaps ---- */
typedef struct hx__cand {
  float d;
  uint32_t id;
} hx__cand;

typedef struct hx__heap {
  hx__cand *a;
  size_t n, cap;
  int max; /* 1 = max-heap (top is the largest d) */
} hx__heap;

int hx__heap_init(hx__heap *h, size_t cap, int max);
void hx__heap_release(hx__heap *h);
int hx__heap_push(hx__heap *h, float d, uint32_t id);
hx__cand hx__heap_pop(hx__heap *h);
static inline const hx__cand *hx__heap_top(const hx__heap *h) { return h->n ? &h->a[0] : NULL; }
/* Keeps the k smallest: pushes if fewer than k or d beats the top (max-heap). */
int hx__heap_keep(hx__heap *h, size_t k, float d, uint32_t id);
/* Sorts the heap contents ascending by d into out (empties the heap); returns n. */
size_t hx__heap_drain_sorted(hx__heap *h, hx__cand *out);

#endif
