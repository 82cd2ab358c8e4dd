/*
 * vstore.h - the vector store the API and workers talk to.
 *
 * Backends are function tables: sqlite.c (the first embedded store: exact,
 * durable, one SQLite file) now; the built-in engine (src/vec) and Qdrant
 * later. Every call names exactly one org: the store keeps tenants apart, and
 * a point of another org answers HX_ENOENT, never data.
 * Vectors are float32 and stored bit for bit.
 */
#ifndef HX_VSTORE_VSTORE_H
#define HX_VSTORE_VSTORE_H

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"
#include "util/uuid.h"

typedef struct hx_vstore hx_vstore;

typedef struct hx_vpoint {
  hx_uuid id;
  const float *vec;   /* borrowed, dim floats */
  int dim;
  json_t *payload;    /* borrowed */
} hx_vpoint;

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
  int (*count)(hx_vstore *s, const char *coll, const char *org, size_t *n, hx_err *err);
  /* Points of every tenant (for /metrics). */
  int (*total)(hx_vstore *s, size_t *n, hx_err *err);
} hx_vstore_ops;

struct hx_vstore { const hx_vstore_ops *ops; };

int hx_vstore_open_sqlite(const char *path, int sync, hx_vstore **out, hx_err *err);

#define HX_COLLECTION "embeddings"

#endif
