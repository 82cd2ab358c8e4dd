/*
 * cache.c - the query-embedding cache: (model, model version, text) -> the
 * query's dense vector, so repeated queries skip the model. A bounded LRU:
 * a chained hash table over a doubly linked recency list, one mutex (a lookup
 * is a hash and a memcmp; the model call it saves costs far more). Texts over
 * CACHE_MAX_KEY bytes are not cached.
 */
#include "search/search_int.h"
#include "obs/metrics.h"
#include "util/hash.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_MAX_KEY 8192

typedef struct entry {
  struct entry *next_hash, *prev_lru, *next_lru;
  uint64_t h;
  size_t klen;
  int dim;
  float *vec;      /* owned */
  char key[];      /* model \0 version \0 text */
} entry;

struct hx__qcache {
  pthread_mutex_t mu;
  entry **tab;     /* owned, nbuckets */
  size_t nbuckets, n, cap;
  entry *head, *tail;   /* most / least recently used */
};

int hx__qcache_new(size_t cap, hx__qcache **out) {
  *out = NULL;
  if (!cap) return 0;
  hx__qcache *c = calloc(1, sizeof *c);
  if (!c) return HX_ENOMEM;
  c->nbuckets = 1;
  while (c->nbuckets < cap) c->nbuckets <<= 1;
  c->tab = calloc(c->nbuckets, sizeof *c->tab);
  if (!c->tab) {
    free(c);
    return HX_ENOMEM;
  }
  c->cap = cap;
  pthread_mutex_init(&c->mu, NULL);
  *out = c;
  return 0;
}

void hx__qcache_free(hx__qcache *c) {
  if (!c) return;
  for (entry *e = c->head, *nx; e; e = nx) {
    nx = e->next_lru;
    free(e->vec);
    free(e);
  }
  free(c->tab);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static size_t make_key(char *buf, const char *model, const char *ver, const char *text, size_t tlen) {
  size_t a = strlen(model) + 1, b = strlen(ver) + 1;
  if (buf) {
    memcpy(buf, model, a);
    memcpy(buf + a, ver, b);
    memcpy(buf + a + b, text, tlen);
  }
  return a + b + tlen;
}

static void unlink_lru(hx__qcache *c, entry *e) {
  if (e->prev_lru) e->prev_lru->next_lru = e->next_lru;
  else c->head = e->next_lru;
  if (e->next_lru) e->next_lru->prev_lru = e->prev_lru;
  else c->tail = e->prev_lru;
  e->prev_lru = e->next_lru = NULL;
}

static void push_front(hx__qcache *c, entry *e) {
  e->next_lru = c->head;
  e->prev_lru = NULL;
  if (c->head) c->head->prev_lru = e;
  c->head = e;
  if (!c->tail) c->tail = e;
}

static entry **slot(hx__qcache *c, uint64_t h, const char *key, size_t klen) {
  entry **p = &c->tab[h & (c->nbuckets - 1)];
  while (*p && !((*p)->h == h && (*p)->klen == klen && !memcmp((*p)->key, key, klen))) p = &(*p)->next_hash;
  return p;
}

int hx__qcache_get(hx__qcache *c, const char *model, const char *ver, const char *text, float *out, int dim) {
  size_t tlen = strlen(text), klen = make_key(NULL, model, ver, text, tlen);
  if (!c || klen > CACHE_MAX_KEY) return 0;
  char key[CACHE_MAX_KEY];
  make_key(key, model, ver, text, tlen);
  uint64_t h = hx_fnv1a64(HX_FNV1A64_INIT, key, klen);
  pthread_mutex_lock(&c->mu);
  entry *e = *slot(c, h, key, klen);
  int hit = e && e->dim == dim;
  if (hit) {
    memcpy(out, e->vec, (size_t)dim * sizeof *out);
    unlink_lru(c, e);
    push_front(c, e);
  }
  pthread_mutex_unlock(&c->mu);
  hx_metrics_query_cache(hit ? "hit" : "miss");
  return hit;
}

void hx__qcache_put(hx__qcache *c, const char *model, const char *ver, const char *text, const float *vec, int dim) {
  size_t tlen = strlen(text), klen = make_key(NULL, model, ver, text, tlen);
  if (!c || klen > CACHE_MAX_KEY) return;
  entry *e = malloc(sizeof *e + klen);
  float *v = malloc((size_t)dim * sizeof *v);
  if (!e || !v) {
    free(e);
    free(v);
    return;
  }
  make_key(e->key, model, ver, text, tlen);
  memcpy(v, vec, (size_t)dim * sizeof *v);
  e->klen = klen;
  e->h = hx_fnv1a64(HX_FNV1A64_INIT, e->key, klen);
  e->dim = dim;
  e->vec = v;
  pthread_mutex_lock(&c->mu);
  entry **p = slot(c, e->h, e->key, klen);
  if (*p) {   /* another thread put it first: keep theirs */
    pthread_mutex_unlock(&c->mu);
    free(v);
    free(e);
    return;
  }
  e->next_hash = NULL;
  *p = e;
  push_front(c, e);
  if (++c->n > c->cap) {
    entry *old = c->tail;
    unlink_lru(c, old);
    entry **q = slot(c, old->h, old->key, old->klen);
    *q = old->next_hash;
    c->n--;
    free(old->vec);
    free(old);
  }
  pthread_mutex_unlock(&c->mu);
}

size_t hx__qcache_size(hx__qcache *c) {
  if (!c) return 0;
  pthread_mutex_lock(&c->mu);
  size_t n = c->n;
  pthread_mutex_unlock(&c->mu);
  return n;
}
