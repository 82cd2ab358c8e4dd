/*
 * vec.h - the built-in vector engine: a Qdrant-like store in one library.
 *
 * Why it exists: the embedded default of heimdex needs a real vector store that
 * needs nothing but a data directory. A database (hx_vec) is a directory holding
 * collections; a collection has named dense vectors (dim, Cosine/Dot/Euclid, HNSW
 * m/ef_construct, optional int8 or binary quantization) and optional sparse
 * vectors (optional IDF modifier); points have an id (u64 or UUID), vectors and a
 * JSON payload.
 *
 * Tenancy is a partition, not a filter: every point belongs to exactly one tenant
 * key and every read or write names exactly one tenant. Each tenant of a
 * collection is its own shard (own id map, graphs, payload and sparse indexes),
 * so no code path can return another tenant's point and a tenant's size never
 * slows another's search. Point ids are unique per (collection, tenant).
 *
 * Durability: every mutating call appends to a write-ahead log and returns 0 only
 * once the log is fsync'd (concurrent callers share one fsync). Snapshots compact
 * the log; hx_vec_open recovers snapshot + log tail.
 *
 * Threads: all functions are safe to call concurrently on one hx_vec. Searches
 * run in parallel with each other; a write to a tenant shard excludes readers of
 * that shard only while it is applied in memory (not during the fsync).
 *
 * Ownership: input pointers are borrowed for the call. Output json_t payloads are
 * new references the caller must json_decref (hx_vec_record_release and
 * hx_vec_hits_release do it). They are the stored objects themselves, shared
 * (jansson's reference counts are atomic) and read-only: the engine never
 * changes a stored payload (an update stores a new object), and callers must
 * not change one either (json_object_set on a copy, json_deep_copy to edit).
 */
#ifndef HX_VEC_VEC_H
#define HX_VEC_VEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct hx_vec hx_vec;
typedef struct hx_vec_filter hx_vec_filter;

/* ---- ids ---------------------------------------------------------------- */

/* A point id: an unsigned integer or a UUID. Integer ids order before UUIDs
 * (as in Qdrant); integers by value, UUIDs by their bytes. */
typedef struct hx_vec_id {
  int is_uuid;
  uint64_t num;
  unsigned char uuid[16];
} hx_vec_id;

hx_vec_id hx_vec_id_num(uint64_t n);
/* "123" → integer id, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (any case) → UUID. */
int hx_vec_id_parse(const char *s, hx_vec_id *out, hx_err *err);
/* JSON integer (>= 0) or UUID string. */
int hx_vec_id_from_json(const json_t *j, hx_vec_id *out, hx_err *err);
/* Writes the canonical text (decimal or lowercase 8-4-4-4-12) into buf[37]. */
void hx_vec_id_format(const hx_vec_id *id, char buf[37]);
json_t *hx_vec_id_to_json(const hx_vec_id *id); /* new reference */
int hx_vec_id_cmp(const hx_vec_id *a, const hx_vec_id *b);

/* ---- database ----------------------------------------------------------- */

typedef struct hx_vec_opts {
  int no_fsync;                 /* tests/bench only: skip fsync (still writes the log) */
  uint64_t wal_max_bytes;       /* snapshot when the log grows past this; 0 = 256 MiB */
  uint32_t filter_exact_max;    /* planner: filtered sets up to this size are scanned
                                   exactly; 0 = 20000 */
} hx_vec_opts;

/* Opens (creating if needed) the database in dir and recovers it from the last
 * snapshot plus the log tail; a torn or corrupt log tail is cut. opts may be NULL. */
int hx_vec_open(const char *dir, const hx_vec_opts *opts, hx_vec **out, hx_err *err);
/* Writes a snapshot, truncates the log and frees everything. Accepts NULL. */
void hx_vec_close(hx_vec *db);
/* Snapshot now (compaction of the log). */
int hx_vec_checkpoint(hx_vec *db, hx_err *err);
/* Upserted points become searchable at once (unindexed ones are scanned
 * exactly) and are inserted into the HNSW graphs by a background thread. This
 * inserts everything pending now, on the caller's thread (tests, benchmarks,
 * bulk loads). */
int hx_vec_wait_indexed(hx_vec *db, hx_err *err);
/* Integrity check of every structure (graphs, id maps, payload and sparse
 * indexes against the data). Meant for tests: O(n log n). */
int hx_vec_check(hx_vec *db, hx_err *err);

/* ---- collections -------------------------------------------------------- */

typedef enum { HX_VEC_COSINE = 1, HX_VEC_DOT = 2, HX_VEC_EUCLID = 3 } hx_vec_distance;
typedef enum { HX_VEC_QUANT_NONE = 0, HX_VEC_QUANT_INT8 = 1, HX_VEC_QUANT_BINARY = 2 } hx_vec_quant;

typedef struct hx_vec_dense_cfg {
  const char *name;          /* "" = the default unnamed vector */
  uint32_t dim;
  hx_vec_distance distance;
  uint32_t m;                /* 0 = 16 */
  uint32_t ef_construct;     /* 0 = 100 */
  hx_vec_quant quant;
} hx_vec_dense_cfg;

typedef struct hx_vec_sparse_cfg {
  const char *name;
  int idf;                   /* 1 = IDF modifier (BM25 idf from the tenant's data) */
} hx_vec_sparse_cfg;

typedef struct hx_vec_collection_cfg {
  const hx_vec_dense_cfg *dense;
  size_t ndense;
  const hx_vec_sparse_cfg *sparse;
  size_t nsparse;
  uint32_t index_threshold;  /* a tenant with fewer live points is searched exactly,
                                without a graph; 0 = 1000 */
} hx_vec_collection_cfg;

typedef enum {
  HX_VEC_INDEX_KEYWORD = 1, HX_VEC_INDEX_INTEGER, HX_VEC_INDEX_FLOAT,
  HX_VEC_INDEX_BOOL, HX_VEC_INDEX_UUID
} hx_vec_index_type;

int hx_vec_collection_create(hx_vec *db, const char *name, const hx_vec_collection_cfg *cfg,
                             hx_err *err);
int hx_vec_collection_drop(hx_vec *db, const char *name, hx_err *err);
/* Info as JSON (new reference): config, payload indexes, tenants, point counts. */
int hx_vec_collection_info(hx_vec *db, const char *name, json_t **out, hx_err *err);
/* Names of all collections as a JSON array (new reference). */
int hx_vec_collection_list(hx_vec *db, json_t **out, hx_err *err);
/* Declares a payload index on a key (dotted path, "a.b" or "tags[]"). */
int hx_vec_index_create(hx_vec *db, const char *coll, const char *key, hx_vec_index_type type,
                        hx_err *err);
/* Removes the payload index on key (HX_ENOENT if there is none). */
int hx_vec_index_drop(hx_vec *db, const char *coll, const char *key, hx_err *err);
/* Switches quantization of one dense vector on or off (rebuilds codes). */
int hx_vec_set_quant(hx_vec *db, const char *coll, const char *vector, hx_vec_quant q,
                     hx_err *err);

/* ---- points ------------------------------------------------------------- */

typedef struct hx_vec_dense {
  const char *name;          /* NULL or "" = default vector */
  const float *v;
  uint32_t dim;
} hx_vec_dense;

typedef struct hx_vec_sparse {
  const char *name;
  const uint32_t *idx;       /* need not be sorted; duplicates are summed */
  const float *val;
  uint32_t n;
} hx_vec_sparse;

typedef struct hx_vec_point {
  hx_vec_id id;
  const hx_vec_dense *dense;
  size_t ndense;
  const hx_vec_sparse *sparse;
  size_t nsparse;
  json_t *payload;           /* borrowed; NULL = {} ; must be an object */
} hx_vec_point;

/* Inserts or replaces points of one tenant. Returns 0 when durable. */
int hx_vec_upsert(hx_vec *db, const char *coll, const char *tenant, const hx_vec_point *pts,
                  size_t n, hx_err *err);
int hx_vec_delete(hx_vec *db, const char *coll, const char *tenant, const hx_vec_id *ids,
                  size_t n, size_t *deleted, hx_err *err);
int hx_vec_delete_by_filter(hx_vec *db, const char *coll, const char *tenant,
                            const hx_vec_filter *f, size_t *deleted, hx_err *err);

typedef enum {
  HX_VEC_PAYLOAD_SET = 1,       /* merge keys of `payload` into the point's payload */
  HX_VEC_PAYLOAD_OVERWRITE,     /* replace the whole payload */
  HX_VEC_PAYLOAD_DELETE_KEYS,   /* `payload` is an array of top-level keys to remove */
  HX_VEC_PAYLOAD_CLEAR          /* payload becomes {} */
} hx_vec_payload_op;

/* Applies op to the points given by ids (if ids != NULL) or by filter f (if
 * ids == NULL; f == NULL means all points of the tenant). */
int hx_vec_payload_update(hx_vec *db, const char *coll, const char *tenant, hx_vec_payload_op op,
                          const json_t *payload, const hx_vec_id *ids, size_t n,
                          const hx_vec_filter *f, size_t *updated, hx_err *err);

/* A point as read back. vectors[i] is a malloc'd copy of dense vector i (collection
 * order; NULL when absent or not requested), dims[i] its size. */
typedef struct hx_vec_record {
  hx_vec_id id;
  uint64_t version;          /* log sequence number of the last write */
  json_t *payload;           /* new reference or NULL */
  size_t nvec;
  float **vectors;
  uint32_t *dims;
} hx_vec_record;

void hx_vec_record_release(hx_vec_record *r);   /* frees contents, not r */
void hx_vec_records_release(hx_vec_record *r, size_t n);

enum { HX_VEC_WITH_PAYLOAD = 1, HX_VEC_WITH_VECTORS = 2 };

/* Fetches one point. HX_ENOENT if the tenant has no such point. */
int hx_vec_get(hx_vec *db, const char *coll, const char *tenant, const hx_vec_id *id, int with,
               hx_vec_record *out, hx_err *err);

/* Points in id order starting at *offset (inclusive; NULL = from the start),
 * at most limit, matching f (may be NULL). *out is malloc'd (release with
 * hx_vec_records_release + free). *has_next/next_offset give the next page. */
int hx_vec_scroll(hx_vec *db, const char *coll, const char *tenant, const hx_vec_id *offset,
                  size_t limit, const hx_vec_filter *f, int with, hx_vec_record **out,
                  size_t *nout, int *has_next, hx_vec_id *next_offset, hx_err *err);

/* Number of points matching f (NULL = all). exact = 0 allows an index estimate. */
int hx_vec_count(hx_vec *db, const char *coll, const char *tenant, const hx_vec_filter *f,
                 int exact, size_t *count, hx_err *err);

/* ---- search ------------------------------------------------------------- */

typedef struct hx_vec_query {
  const char *vector;        /* name of the dense or sparse vector; NULL/"" = default */
  const float *v;            /* dense query (dim floats) ... */
  uint32_t dim;
  const uint32_t *sp_idx;    /* ... or sparse query when sp_idx != NULL */
  const float *sp_val;
  uint32_t sp_n;
  size_t limit;              /* 0 = 10 */
  size_t offset;
  uint32_t ef;               /* 0 = max(64, limit + offset) */
  int exact;                 /* 1 = brute force */
  int has_threshold;
  float score_threshold;     /* Cosine/Dot: score >= t; Euclid: distance <= t */
  const hx_vec_filter *filter;
  int ignore_quant;          /* 1 = search float vectors even if quantized */
  float oversampling;        /* quantized search: candidates = limit*oversampling; 0 = 3 */
  int with;                  /* HX_VEC_WITH_PAYLOAD | HX_VEC_WITH_VECTORS */
} hx_vec_query;

typedef struct hx_vec_hit {
  hx_vec_id id;
  float score;               /* Cosine/Dot: similarity (higher is better);
                                Euclid: distance (lower is better) */
  uint64_t version;
  json_t *payload;           /* new reference when requested, else NULL */
  float *vector;             /* dense query with HX_VEC_WITH_VECTORS: malloc'd copy of
                                the point's vector (as stored: Cosine normalised) */
  uint32_t dim;
} hx_vec_hit;

/* hits has room for q->limit entries; *nhits receives how many were written. */
int hx_vec_search(hx_vec *db, const char *coll, const char *tenant, const hx_vec_query *q,
                  hx_vec_hit *hits, size_t *nhits, hx_err *err);
void hx_vec_hits_release(hx_vec_hit *hits, size_t n);

/* ---- filters ------------------------------------------------------------ */

/* Compiles a Qdrant filter object ({must, should, must_not, min_should}) with
 * conditions: field {key, match{value|any|except|text}, range{gt,gte,lt,lte},
 * values_count{...}}, {is_empty:{key}}, {is_null:{key}}, {has_id:[...]},
 * {nested:{key, filter}} and nested filters. Errors name the path, e.g.
 * "filter.must[0].match: expected value, any, except or text". */
int hx_vec_filter_parse(const json_t *j, hx_vec_filter **out, hx_err *err);
void hx_vec_filter_free(hx_vec_filter *f);
/* Evaluates a filter against one point (no index needed); for tests and layers
 * that filter elsewhere. */
int hx_vec_filter_match(const hx_vec_filter *f, const hx_vec_id *id, const json_t *payload);

#endif
