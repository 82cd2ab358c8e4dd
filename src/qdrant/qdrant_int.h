/*
 * qdrant_int.h - private to src/qdrant: JSON <-> engine conversions (conv.c),
 * the query planner (query.c) and the handlers (api.c).
 *
 * Errors: every parser fails with HX_EBADREQ and an HTTP status (400 for a
 * malformed or unsupported body, as Qdrant's "Format error in JSON body" /
 * "Wrong input"), and a message that names the offending field.
 */
#ifndef HX_QDRANT_QDRANT_INT_H
#define HX_QDRANT_QDRANT_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "qdrant/qdrant.h"
#include "vec/vec.h"

#define HX__QD_MAX_VECTORS 32       /* named dense + sparse vectors per collection */
#define HX__QD_MAX_LIMIT 100000     /* cap on limit / prefetch limit / ids per request */

/* Every allocation of one request, freed in one call. */
typedef struct hx__qd_arena {
  void **p;
  size_t n, cap;
} hx__qd_arena;

void *hx__qd_alloc(hx__qd_arena *a, size_t bytes);   /* zeroed; NULL on OOM */
void hx__qd_arena_release(hx__qd_arena *a);

/* One collection as this API sees it (from hx_vec_collection_info). */
typedef struct hx__qd_coll {
  json_t *info;                                /* owned */
  const char *name;
  size_t ndense, nsparse;
  const char *dense[HX__QD_MAX_VECTORS];       /* "" = the default vector; borrowed from info */
  uint32_t dim[HX__QD_MAX_VECTORS];
  int euclid[HX__QD_MAX_VECTORS];              /* smaller score is better */
  const char *sparse[HX__QD_MAX_VECTORS];
  size_t points;                               /* live points of the "_qdrant" tenant */
} hx__qd_coll;

/* Loads the collection; a missing one gives 404 "Not found: Collection `x` doesn't exist!". */
int hx__qd_coll_load(hx_vec *db, const char *name, hx__qd_coll *c, hx_err *err);
void hx__qd_coll_release(hx__qd_coll *c);
int hx__qd_dense_index(const hx__qd_coll *c, const char *name);    /* -1 if none */
int hx__qd_sparse_index(const hx__qd_coll *c, const char *name);   /* -1 if none */

/* PUT /collections/{name} body → engine config (arrays live in a). */
int hx__qd_parse_create(const json_t *body, hx__qd_arena *a, hx_vec_collection_cfg *cfg, hx_err *err);
/* CollectionInfo of c (new reference). */
json_t *hx__qd_info_json(const hx__qd_coll *c);

/* PointInsertOperations (batch or points list) → points (living in a, payloads
 * borrowed from body). */
int hx__qd_parse_points(const json_t *body, hx__qd_arena *a, hx_vec_point **pts, size_t *n, hx_err *err);
/* A JSON array of point ids (what names the field in errors). */
int hx__qd_parse_ids(const json_t *arr, const char *what, hx__qd_arena *a, hx_vec_id **ids, size_t *n,
                     hx_err *err);
/* Filter JSON (NULL or null = none) → *f (NULL when none); 400 on a bad filter. */
int hx__qd_parse_filter(const json_t *j, hx_vec_filter **f, hx_err *err);
/* A dense list or sparse {indices, values} → the query fields of q (arrays in a). */
int hx__qd_parse_vector_input(const json_t *v, const char *what, hx__qd_arena *a, hx_vec_query *q,
                              hx_err *err);

/* with_payload / with_vector selectors. */
typedef struct hx__qd_sel {
  int payload;               /* 1 = return a payload */
  const json_t *include;     /* array of keys, or NULL = all */
  const json_t *exclude;     /* array of keys, or NULL */
  int vector;                /* 1 = return vectors */
  const json_t *names;       /* array of vector names, or NULL = all */
} hx__qd_sel;

/* Parses with_payload (bool | [keys] | {include} | {exclude}) and with_vector
 * (bool | [names]); absent fields take the defaults. */
int hx__qd_parse_sel(const json_t *body, int payload_default, hx__qd_sel *sel, hx_err *err);
int hx__qd_sel_flags(const hx__qd_sel *sel);         /* HX_VEC_WITH_* */
/* Adds "payload" and "vector" of r to obj as sel asks. */
void hx__qd_put_selected(json_t *obj, const hx__qd_coll *c, const hx_vec_record *r, const hx__qd_sel *sel);

/* Optional JSON field helpers; each fails with 400 naming the field. */
int hx__qd_get_bool(const json_t *o, const char *key, int dflt, int *out, hx_err *err);
int hx__qd_get_uint(const json_t *o, const char *key, uint64_t dflt, uint64_t max, uint64_t *out, hx_err *err);
int hx__qd_bad(hx_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* POST /points/query: one QueryRequest → JSON array of ScoredPoint (new reference). */
int hx__qd_query(hx_vec *db, const hx__qd_coll *c, const json_t *req, json_t **points, hx_err *err);

#endif
