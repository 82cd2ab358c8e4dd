/*
 * vstore.h - the vector store the API and workers talk to.
 *
 * Backends are function tables: engine.c (the built-in engine of src/vec, the
 * embedded default, owned by one process) and qdrant.c (Qdrant over REST,
 * QDRANT_URL: what several API and worker processes share).
 *
 * Every call names exactly one org: the store keeps tenants apart (the engine
 * partitions by org, Qdrant filters on org_id), and a point of another org
 * answers HX_ENOENT, never data. A client filter is ANDed with the org scope
 * and can never widen it.
 *
 * The collection HX_COLLECTION has one dense vector (Cosine: stored normalised,
 * as Qdrant does) and one sparse vector HX_SPARSE_VECTOR with the IDF modifier
 * (BM25-style keyword search; IDF from the tenant's own points).
 */
#ifndef HX_VSTORE_VSTORE_H
#define HX_VSTORE_VSTORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/uuid.h"

#define HX_COLLECTION "embeddings"
#define HX_SPARSE_VECTOR "text"

typedef struct hx_vstore hx_vstore;

typedef struct hx_vpoint {
  hx_uuid id;
  const float *vec;          /* borrowed, dim floats */
  int dim;
  const uint32_t *sp_idx;    /* optional sparse vector (term ids, weights); sp_n = 0: none */
  const float *sp_val;
  uint32_t sp_n;
  json_t *payload;           /* borrowed */
} hx_vpoint;

/* One nearest-neighbour query: dense (vec) or sparse (sparse = 1). */
typedef struct hx_vquery {
  const float *vec;
  int dim;
  int sparse;
  const uint32_t *sp_idx;
  const float *sp_val;
  uint32_t sp_n;
  const json_t *filter;      /* client filter (Qdrant grammar: must/should/must_not...) or NULL */
  size_t limit, offset;
  int has_threshold;
  float threshold;           /* score >= threshold */
  int with_payload, with_vector;
  uint32_t ef;               /* 0 = backend default */
  int exact;                 /* 1 = brute force (tests, recall checks) */
} hx_vquery;

typedef struct hx_vhit {
  hx_uuid id;
  float score;
  json_t *payload;           /* new reference or NULL */
  float *vec;                /* malloc'd when with_vector, else NULL */
  int dim;
} hx_vhit;

typedef struct hx_vstore_ops {
  void (*close)(hx_vstore *s);
  /* Create the collection if missing; HX_EINVAL if it exists with another dim. */
  int (*ensure)(hx_vstore *s, const char *coll, int dim, hx_err *err);
  /* Durable when it returns 0. Same id again replaces vector and payload. */
  int (*upsert)(hx_vstore *s, const char *coll, const char *org, const hx_vpoint *pts, size_t n, hx_err *err);
  /* *vec (malloc'd, caller frees) and *payload (caller decrefs); HX_ENOENT when absent. */
  int (*get)(hx_vstore *s, const char *coll, const char *org, const hx_uuid *id, float **vec, int *dim,
             json_t **payload, hx_err *err);
  int (*del)(hx_vstore *s, const char *coll, const char *org, const hx_uuid *ids, size_t n, size_t *deleted,
             hx_err *err);
  /* Deletes the org's points matching filter (NULL = all of the org's points). */
  int (*del_where)(hx_vstore *s, const char *coll, const char *org, const json_t *filter, size_t *deleted,
                   hx_err *err);
  /* Points of the org matching filter (NULL = all). */
  int (*count)(hx_vstore *s, const char *coll, const char *org, const json_t *filter, size_t *n, hx_err *err);
  /* Points of every tenant (for /metrics); *pending (may be NULL): points
   * accepted but not yet in the ANN index (0 where the store does not say). */
  int (*total)(hx_vstore *s, size_t *n, size_t *pending, hx_err *err);
  /* hits has room for q->limit entries; best first. A missing collection gives
   * zero hits; a bad filter HX_EINVAL with a message naming the path. */
  int (*search)(hx_vstore *s, const char *coll, const char *org, const hx_vquery *q, hx_vhit *hits,
                size_t *nhits, hx_err *err);
} hx_vstore_ops;

struct hx_vstore { const hx_vstore_ops *ops; };

/* The built-in engine in dir (created if needed). no_fsync only for tests. */
int hx_vstore_open_engine(const char *dir, int sync, hx_vstore **out, hx_err *err);
/* The engine database behind an engine store (offline tools, the Qdrant-compatible API). */
struct hx_vec *hx_vstore_engine_db(hx_vstore *s);

/* Qdrant over REST (qdrant.c). Zero fields take the defaults in brackets. */
typedef struct hx_vstore_qdrant_opts {
  const char *url;           /* QDRANT_URL, e.g. http://qdrant:6333 (borrowed, copied) */
  const char *api_key;       /* QDRANT_API_KEY, sent as `api-key`; NULL or "" = none */
  long timeout_ms;           /* whole request [30000] */
  long connect_timeout_ms;   /* [2000] */
  int retries;               /* after the first attempt, on 5xx and connection errors [3]; -1 = none */
  long backoff_ms;           /* first retry delay, doubled each time, capped at 2 s, +-20% jitter [100] */
} hx_vstore_qdrant_opts;

/* Opens no connection: Qdrant being down is reported by the calls (HX_EUNAVAIL
 * once the retries are spent), so a process starts while Qdrant restarts. */
int hx_vstore_open_qdrant(const hx_vstore_qdrant_opts *o, hx_vstore **out, hx_err *err);

void hx_vstore_hits_release(hx_vhit *hits, size_t n);

#endif
