/*
 * util.c - the private building blocks declared in util_int.h: CRC32C, byte
 * buffers, string map, u32 vectors, heaps. Kept in one small file because every
 * other file of the engine uses them and none of them is interesting alone.
 */
#include "vec/util_int.h"
#include "util/hash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- CRC32C ---- */

static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc_table[i] = c;
  }
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n) {
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = (uint32_t)__builtin_ia32_crc32di(c, v);
    p += 8;
    n -= 8;
  }
  while (n--) c = __builtin_ia32_crc32qi(c, *p++);
  return c;
}

uint32_t hx__crc32c(uint32_t crc, const void *data, size_t n) {
  static int mode; /* 0 = unknown, 1 = table, 2 = hardware */
  int m = __atomic_load_n(&mode, __ATOMIC_ACQUIRE);
  if (!m) {
    crc_init();
    __builtin_cpu_init();
    m = __builtin_cpu_supports("sse4.2") ? 2 : 1;
    __atomic_store_n(&mode, m, __ATOMIC_RELEASE);
  }
  const uint8_t *p = data;
  uint32_t c = ~crc;
  if (m == 2) {
    c = crc_hw(c, p, n);
  } else {
    while (n--) c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
  }
  return ~c;
}

/* ---- buffer ---- */

#define HX__BUF_MAX ((size_t)2 << 30)

void hx__buf_release(hx__buf *b) {
  free(b->p);
  b->p = NULL;
  b->n = b->cap = 0;
  b->oom = 0;
}

void hx__buf_reserve(hx__buf *b, size_t n) {
  if (b->oom || b->n + n <= b->cap) return;
  uint8_t *q = b->n + n <= HX__BUF_MAX ? realloc(b->p, b->n + n) : NULL;
  if (!q) {
    b->oom = 1;
    return;
  }
  b->p = q;
  b->cap = b->n + n;
}

void hx__buf_put(hx__buf *b, const void *p, size_t n) {
  if (b->oom) return;
  if (b->n + n > b->cap) {
    size_t c = b->cap ? b->cap : 256;
    while (c < b->n + n) c *= 2;
    uint8_t *q = c <= HX__BUF_MAX ? realloc(b->p, c) : NULL;
    if (!q) {
      b->oom = 1;
      return;
    }
    b->p = q;
    b->cap = c;
  }
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
}

/* ---- string map (linear probing, backward-shift deletion) ---- */

uint64_t hx__hash(const void *data, size_t n) {
  uint64_t h = hx_fnv1a64(HX_FNV1A64_INIT, data, n); /* then a final mix */
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

static hx__smap_ent *find(const hx__smap *m, const char *k, size_t kl, uint64_t h) {
  if (!m->cap) return NULL;
  for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    hx__smap_ent *e = &m->e[i];
    if (!e->key) return e;
    if (e->hash == h && e->klen == kl && !memcmp(e->key, k, kl)) return e;
  }
}

void *hx__smap_get(const hx__smap *m, const char *k, size_t kl) {
  hx__smap_ent *e = find(m, k, kl, hx__hash(k, kl));
  return e && e->key ? e->val : NULL;
}

static int grow(hx__smap *m) {
  size_t nc = m->cap ? m->cap * 2 : 16;
  hx__smap_ent *ne = calloc(nc, sizeof *ne);
  if (!ne) return -1;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->e[i].key) continue;
    size_t j = m->e[i].hash & (nc - 1);
    while (ne[j].key) j = (j + 1) & (nc - 1);
    ne[j] = m->e[i];
  }
  free(m->e);
  m->e = ne;
  m->cap = nc;
  return 0;
}

int hx__smap_put(hx__smap *m, const char *k, size_t kl, void *val) {
  if ((m->n + 1) * 4 > m->cap * 3 && grow(m)) return -1;
  uint64_t h = hx__hash(k, kl);
  hx__smap_ent *e = find(m, k, kl, h);
  if (e->key) {
    e->val = val;
    return 0;
  }
  char *c = malloc(kl + 1);
  if (!c) return -1;
  memcpy(c, k, kl);
  c[kl] = 0;
  e->key = c;
  e->klen = kl;
  e->hash = h;
  e->val = val;
  m->n++;
  return 0;
}

void *hx__smap_del(hx__smap *m, const char *k, size_t kl) {
  hx__smap_ent *e = find(m, k, kl, hx__hash(k, kl));
  if (!e || !e->key) return NULL;
  void *v = e->val;
  free(e->key);
  size_t mask = m->cap - 1, i = (size_t)(e - m->e), j = i;
  m->e[i].key = NULL;
  for (;;) {
    j = (j + 1) & mask;
    if (!m->e[j].key) break;
    size_t home = m->e[j].hash & mask;
    /* move j back to i if its home is not in (i, j] cyclically */
    if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
      m->e[i] = m->e[j];
      m->e[j].key = NULL;
      i = j;
    }
  }
  m->n--;
  return v;
}

void hx__smap_release(hx__smap *m) {
  for (size_t i = 0; i < m->cap; i++) free(m->e[i].key);
  free(m->e);
  m->e = NULL;
  m->cap = m->n = 0;
}

/* ---- u32 vector ---- */

int hx__u32v_push(hx__u32v *a, uint32_t x) {
  if (a->n == a->cap) {
    uint32_t c = a->cap ? a->cap * 2 : 4;
    uint32_t *q = realloc(a->v, (size_t)c * sizeof *q);
    if (!q) return -1;
    a->v = q;
    a->cap = c;
  }
  a->v[a->n++] = x;
  return 0;
}

void hx__u32v_remove(hx__u32v *a, uint32_t x) {
  for (uint32_t i = 0; i < a->n; i++)
    if (a->v[i] == x) {
      a->v[i] = a->v[--a->n];
      return;
    }
}

/* ---- heaps ---- */

int hx__heap_init(hx__heap *h, size_t cap, int max) {
  h->a = malloc((cap ? cap : 16) * sizeof *h->a);
  h->n = 0;
  h->cap = cap ? cap : 16;
  h->max = max;
  return h->a ? 0 : -1;
}

void hx__heap_release(hx__heap *h) {
  free(h->a);
  h->a = NULL;
  h->n = h->cap = 0;
}

static inline int above(const hx__heap *h, const hx__cand *x, const hx__cand *y) {
  return h->max ? x->d > y->d : x->d < y->d;
}

int hx__heap_push(hx__heap *h, float d, uint32_t id) {
  if (h->n == h->cap) {
    hx__cand *q = realloc(h->a, h->cap * 2 * sizeof *q);
    if (!q) return -1;
    h->a = q;
    h->cap *= 2;
  }
  size_t i = h->n++;
  hx__cand c = {d, id};
  while (i) {
    size_t p = (i - 1) / 2;
    if (!above(h, &c, &h->a[p])) break;
    h->a[i] = h->a[p];
    i = p;
  }
  h->a[i] = c;
  return 0;
}

hx__cand hx__heap_pop(hx__heap *h) {
  hx__cand top = h->a[0], last = h->a[--h->n];
  size_t i = 0, n = h->n;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, b = i;
    const hx__cand *best = &last;
    if (l < n && above(h, &h->a[l], best)) b = l, best = &h->a[l];
    if (r < n && above(h, &h->a[r], best)) b = r;
    if (b == i) break;
    h->a[i] = h->a[b];
    i = b;
  }
  if (n) h->a[i] = last;
  return top;
}

int hx__heap_keep(hx__heap *h, size_t k, float d, uint32_t id) {
  if (h->n < k) return hx__heap_push(h, d, id);
  if (k && d < h->a[0].d) {
    hx__heap_pop(h);
    return hx__heap_push(h, d, id);
  }
  return 0;
}

size_t hx__heap_drain_sorted(hx__heap *h, hx__cand *out) {
  size_t n = h->n;
  if (h->max) {
    for (size_t i = n; i-- > 0;) out[i] = hx__heap_pop(h);
  } else {
    for (size_t i = 0; i < n; i++) out[i] = hx__heap_pop(h);
  }
  return n;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

void hx__sort_u32(uint32_t *v, size_t n) {
  size_t i = 1;
  while (i < n && v[i - 1] <= v[i]) i++;
  if (i >= n) return;
  if (n < 64) { /* insertion sort from the first descent */
    for (; i < n; i++) {
      uint32_t x = v[i];
      size_t j = i;
      for (; j > 0 && v[j - 1] > x; j--) v[j] = v[j - 1];
      v[j] = x;
    }
    return;
  }
  uint32_t *tmp = malloc(n * sizeof *tmp);
  if (!tmp) {
    qsort(v, n, sizeof *v, cmp_u32);
    return;
  }
  uint32_t *src = v, *dst = tmp;
  for (int shift = 0; shift < 33; shift += 11) {
    size_t cnt[2048] = {0};
    for (size_t k = 0; k < n; k++) cnt[(src[k] >> shift) & 2047]++;
    size_t sum = 0;
    for (size_t b = 0; b < 2048; b++) {
      size_t c = cnt[b];
      cnt[b] = sum;
      sum += c;
    }
    for (size_t k = 0; k < n; k++) dst[cnt[(src[k] >> shift) & 2047]++] = src[k];
    uint32_t *t = src;
    src = dst;
    dst = t;
  }
  /* three passes: the result is in tmp */
  memcpy(v, src, n * sizeof *v);
  free(tmp);
}

/* ---- memory ---- */

#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_HDR 64 /* in front of the data: keeps it 64-byte aligned */

/* AddressSanitizer checks malloc'd memory only: under it every array stays
 * on the malloc path, so the tests' large shards are checked too. */
#if defined(__SANITIZE_ADDRESS__)
#define HUGE_MAPS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HUGE_MAPS 0
#endif
#endif
#ifndef HUGE_MAPS
#define HUGE_MAPS 1
#endif

typedef struct huge_hdr {
  void *base;    /* the mapping, or the malloc block */
  size_t len;    /* mapping length; 0 = malloc'd */
  size_t size;   /* bytes asked for */
} huge_hdr;

static huge_hdr *hdr_of(void *p) { return (huge_hdr *)((char *)p - HUGE_HDR); }

void hx__huge(void *p, size_t n) {
#ifdef MADV_HUGEPAGE
  uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1), b = ((uintptr_t)p + n) & ~(HUGE_PAGE - 1);
  if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
  (void)p;
  (void)n;
#endif
}

static void *huge_map(size_t n) {
  size_t span = (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1), len = span + 2 * HUGE_PAGE;
  char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return NULL;
  char *data = (char *)(((uintptr_t)base + HUGE_HDR + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
  hx__huge(data, span);
  huge_hdr *h = hdr_of(data);
  h->base = base;
  h->len = len;
  h->size = n;
  return data;
}

void *hx__huge_realloc(void *p, size_t n) {
  huge_hdr *old = p ? hdr_of(p) : NULL;
  if ((!HUGE_MAPS || n < HUGE_PAGE) && (!old || !old->len)) {
    char *b = realloc(old ? old->base : NULL, n + HUGE_HDR);
    if (!b) return NULL;
    huge_hdr *h = (huge_hdr *)b;
    h->base = b;
    h->len = 0;
    h->size = n;
    return b + HUGE_HDR;
  }
  void *q = huge_map(n);
  if (!q) return NULL;
  if (old) {
    memcpy(q, p, old->size < n ? old->size : n);
    hx__huge_free(p);
  }
  return q;
}

void hx__huge_free(void *p) {
  if (!p) return;
  huge_hdr *h = hdr_of(p);
  if (h->len) munmap(h->base, h->len);
  else free(h->base);
}
