/*
 * hnsw.h - a Hierarchical Navigable Small World graph over integer node ids.
 *
 * Why it exists: approximate nearest-neighbour search in O(log n) distance
 * computations for tenant shards too large to scan. The graph knows nothing of
 * vectors: a hx__space says how far a query is from node id, so the same graph
 * serves float search and quantized (int8, binary) search.
 *
 * Algorithm as in Malkov & Yashunin (and hnswlib): levels drawn from
 * floor(-ln(U)/ln(M)), greedy descent on upper levels, beam search of width ef
 * on level 0, heuristic neighbour selection (keep a candidate only if it is
 * closer to the new node than to every neighbour kept so far), neighbours of
 * neighbours shrunk with the same heuristic when they overflow (M on upper
 * levels, 2M on level 0).
 *
 * Contract: nodes are never removed (deletion is a tombstone the caller applies
 * through the accept callback; the caller rebuilds when tombstones pile up). A
 * node's vector must not change while it is in the graph. Insert needs exclusive
 * access; searches may run concurrently with each other (each takes a visited
 * list from a mutex-protected pool).
 */
#ifndef HX_VEC_HNSW_H
#define HX_VEC_HNSW_H

#include <stdint.h>
#include <stdio.h>

#include "util/err.h"
#include "vec/util_int.h"

/* How far query q is from node id; lower is closer. vec(id) gives a node's own
 * vector in the query representation (used when inserting). dist_batch, when
 * not NULL, is dist for n nodes at once (out[i] for ids[i]), bitwise equal to
 * n calls of dist; the graph uses it for a whole neighbour list. */
typedef struct hx__space {
  float (*dist)(const struct hx__space *s, const void *q, uint32_t id);
  void (*dist_batch)(const struct hx__space *s, const void *q, const uint32_t *ids, size_t n, float *out);
  const void *(*vec)(const struct hx__space *s, uint32_t id);
  const void *base;
  size_t stride; /* bytes per node */
  uint32_t dim;
  const void *k;        /* const hx__vec_kernels * */
  const float *corr;    /* int8: per-node correction term */
  int corr_used;        /* int8: corr is part of the distance (Euclid) */
  float qcorr, scale2, constant;
} hx__space;

/* Returns nonzero if node id may be a result (filter + tombstones). */
typedef int (*hx__accept_fn)(void *ctx, uint32_t id);

typedef struct hx__hnsw hx__hnsw;

hx__hnsw *hx__hnsw_new(uint32_t m, uint32_t ef_construct, uint64_t seed);
void hx__hnsw_free(hx__hnsw *g);
uint32_t hx__hnsw_size(const hx__hnsw *g); /* number of nodes inserted */
/* Makes room for ids < cap. */
int hx__hnsw_reserve(hx__hnsw *g, uint32_t cap);
int hx__hnsw_insert(hx__hnsw *g, const hx__space *s, uint32_t id);
int hx__hnsw_contains(const hx__hnsw *g, uint32_t id);
/* The up-to-k nearest accepted nodes, ascending by distance, into out[k];
 * returns how many. ef is raised to k. accept may be NULL. */
size_t hx__hnsw_search(hx__hnsw *g, const hx__space *s, const void *q, uint32_t ef, size_t k,
                       hx__accept_fn accept, void *actx, hx__cand *out);
/* Structural check: link counts in bounds, no self links, links only to nodes
 * present on that level, entry point on the top level, no duplicate links. */
int hx__hnsw_check(const hx__hnsw *g, hx_err *err);
/* Serialises into b / restores from r (see snapshot layout in store.c). */
void hx__hnsw_save(const hx__hnsw *g, hx__buf *b);
hx__hnsw *hx__hnsw_load(hx__rd *r, uint32_t cap);
/* Bytes of memory held (links only). */
size_t hx__hnsw_memory(const hx__hnsw *g);

#endif
