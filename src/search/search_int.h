/* search_int.h - private to src/search: the query-embedding cache (cache.c). */
#ifndef HX_SEARCH_SEARCH_INT_H
#define HX_SEARCH_SEARCH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct hx__qcache hx__qcache;

/* cap 0: *out = NULL, a cache that never hits. HX_ENOMEM. */
int hx__qcache_new(size_t cap, hx__qcache **out);
void hx__qcache_free(hx__qcache *c);
/* 1 = hit (out[dim] filled); counts a hit or a miss in /metrics. c may be NULL. */
int hx__qcache_get(hx__qcache *c, const char *model, const char *ver, const char *text, float *out, int dim);
void hx__qcache_put(hx__qcache *c, const char *model, const char *ver, const char *text, const float *vec, int dim);
size_t hx__qcache_size(hx__qcache *c);

#endif
