/*
 * vec_int.h - private layout of the vector engine (database, collections,
 * tenant shards) shared by vec.c (API, apply, recovery), search.c, store.c
 * (snapshots), pindex.c (payload indexes), sparse.c and quant.c.
 *
 * Storage of a shard: points live in slots 0..n-1. A slot is never reused; an
 * upsert of an existing id tombstones its old slot and takes a new one, so a
 * vector in the HNSW graph never changes. Tombstones stay in the graphs (as
 * waypoints) until the shard is compacted (rebuilt from live slots, once tombstones
 * outnumber live points after a delete or an upsert).
 *
 * Locks (always taken in this order): db->lock (shared by every operation;
 * exclusive for create/drop/index/quantization changes and snapshots) →
 * coll->smu (mutex guarding the tenant map only) → shard->lock (readers
 * shared; a write holds it exclusively while it appends to the log and
 * applies, so log order equals apply order within a shard).
 */
#ifndef HX_VEC_VEC_INT_H
#define HX_VEC_VEC_INT_H

#include <pthread.h>

#include "vec/distance.h"
#include "vec/filter_int.h"
#include "vec/hnsw.h"
#include "vec/util_int.h"
#include "vec/vec.h"
#include "vec/wal.h"

/* WAL record types (payload layouts in vec.c). */
enum {
  HX__R_COLL_CREATE = 1, HX__R_COLL_DROP = 2, HX__R_INDEX = 3, HX__R_QUANT = 4,
  HX__R_UPSERT = 5, HX__R_DELETE = 6, HX__R_PAYLOAD = 7, HX__R_INDEX_DROP = 8
};

typedef struct hx__dense_def {
  char *name;
  uint32_t dim, m, efc;
  hx_vec_distance dist;
  hx_vec_quant quant;
} hx__dense_def;

typedef struct hx__sparse_def {
  char *name;
  int idf;
} hx__sparse_def;

typedef struct hx__index_def {
  char *key;
  char **path;
  size_t npath;
  hx_vec_index_type type;
} hx__index_def;

/* Quantized codes of one dense vector of a shard. */
typedef struct hx__quant {
  hx_vec_quant kind;
  uint8_t *codes;      /* cap * stride */
  size_t stride;
  float *corr;         /* int8: per-slot lo*step*sum(codes) */
  float lo, step;      /* int8: x ≈ lo + step * code */
  uint32_t coded;      /* slots < coded have codes */
} hx__quant;

typedef struct hx__dvec {
  float *data;         /* cap * dim, Cosine vectors stored normalised */
  uint8_t *has;        /* cap */
  uint32_t nlive_has;  /* live slots having this vector */
  hx__hnsw *g;         /* NULL while the tenant is below index_threshold */
  hx__quant q;
} hx__dvec;

typedef struct hx__posting {
  uint32_t slot;
  float w;
} hx__posting;

typedef struct hx__plist {
  hx__posting *p;
  uint32_t n, cap;
  uint32_t df;         /* live points containing the term */
} hx__plist;

typedef struct hx__svec {
  uint32_t *cnt;       /* per slot */
  uint32_t **idx;      /* per slot, owned, sorted unique */
  float **val;
  hx__smap terms;      /* 4-byte term → hx__plist* (owned) */
  uint32_t nwith;      /* live points having this sparse vector */
} hx__svec;

typedef struct hx__rentry {
  double v;
  uint32_t slot;
} hx__rentry;

/* Slots holding one value. Removal is lazy (a removal only counts a stale
 * entry; the list is filtered once stale entries are half of it), so deleting
 * from a value every point shares is not O(points) per delete. */
typedef struct hx__vlist {
  hx__u32v v;
  uint32_t stale;
} hx__vlist;

/* Payload index of one key in one shard. Exact lists hold every live slot with
 * the value plus at most `stale` others. Range entries of new values wait in
 * rt and are merged (under mu) by the next range query; removals only count
 * until half the array is stale, then the array is rebuilt from the payloads. */
typedef struct hx__pidx {
  hx__smap exact;      /* value key → hx__vlist* (owned) */
  hx__rentry *rv;
  size_t nrv, caprv;
  hx__rentry *rt;      /* values added since the last merge, unsorted */
  size_t nrt, caprt;
  size_t rstale;       /* range entries removed but not yet filtered out */
  int dirty;           /* rebuild the range array from the payloads */
  pthread_mutex_t mu;
} hx__pidx;

typedef struct hx__shard {
  char *tenant;
  pthread_rwlock_t lock;
  uint32_t n, cap, nlive;
  uint32_t gdone;      /* slots < gdone are in the graphs (if live); the rest are
                          searched exactly until the indexer reaches them */
  int waiting;          /* writers waiting for the lock (the indexer yields to them) */
  hx_vec_id *ids;
  uint64_t *ver;
  uint8_t *dead;
  json_t **payload;    /* owned; NULL for dead slots */
  uint32_t *idtab;     /* open addressing over live slots; UINT32_MAX = empty */
  size_t idcap;
  hx__dvec *dv;        /* coll->ndense */
  hx__svec *sv;        /* coll->nsparse */
  hx__pidx **pi;       /* coll->nidx */
  uint32_t npi;
} hx__shard;

typedef struct hx__coll {
  char *name;
  hx__dense_def *dense;
  uint32_t ndense;
  hx__sparse_def *sparse;
  uint32_t nsparse;
  hx__index_def *idx;
  uint32_t nidx;
  uint32_t index_threshold;
  pthread_mutex_t smu;
  hx__smap shards;     /* tenant → hx__shard* (owned) */
} hx__coll;

struct hx_vec {
  char *dir;
  hx_vec_opts opts;
  pthread_rwlock_t lock;
  hx__smap colls;      /* name → hx__coll* (owned) */
  hx__wal *wal;
  uint64_t snap_lsn;
  uint64_t snap_bytes;  /* size of the last snapshot written or loaded */
  const hx__vec_kernels *k;
  pthread_mutex_t ckmu; /* one checkpoint at a time */
  /* background indexer: inserts upserted points into graphs in small chunks so
   * an upsert's latency is its log write, not its graph insertion */
  pthread_t ixth;
  int ixrunning, ixstop, ixwork;
  pthread_mutex_t ixmu;
  pthread_cond_t ixcv;
};

/* ---- vec.c ---- */
void hx__rwlock_init(pthread_rwlock_t *l);
hx__coll *hx__coll_new(const char *name, const json_t *cfg, hx_err *err);
void hx__coll_free(hx__coll *c);
json_t *hx__coll_cfg_json(const hx__coll *c);
hx__shard *hx__shard_new(const hx__coll *c, const char *tenant);
void hx__shard_free(const hx__coll *c, hx__shard *s);
int hx__shard_reserve(const hx__coll *c, hx__shard *s, uint32_t need);
uint32_t hx__shard_find(const hx__shard *s, const hx_vec_id *id); /* UINT32_MAX if absent */
int hx__shard_idmap_put(hx__shard *s, uint32_t slot);
/* Sizes the id map for need live ids at once (bulk loads). */
int hx__shard_idmap_reserve(hx__shard *s, size_t need);
uint32_t hx__index_threshold(const hx__coll *c);
/* Inserts up to max pending slots into the graphs, creating them once the
 * tenant reaches the threshold. Caller holds the shard exclusively. */
int hx__shard_index_some(const hx_vec *db, const hx__coll *c, hx__shard *s, uint32_t max);
int hx__shard_needs_index(const hx__coll *c, const hx__shard *s);
void hx__put_id(hx__buf *b, const hx_vec_id *id);
hx_vec_id hx__get_id(hx__rd *r);
void hx__put_cstr(hx__buf *b, const char *s);
json_t *hx__get_json(hx__rd *r); /* "" → {}; not an object → NULL, r->bad */
int hx__apply(hx_vec *db, uint64_t lsn, uint8_t type, const uint8_t *p, size_t n);

/* ---- search.c ---- */
void hx__space_float(hx__space *sp, const hx_vec *db, const hx__dense_def *d, const hx__dvec *dv);
float hx__score(const hx__dense_def *d, float dist);

/* ---- pindex.c ---- */
hx__pidx *hx__pidx_new(void);
void hx__pidx_free(hx__pidx *p);
void hx__pidx_add(const hx__index_def *def, hx__pidx *p, const json_t *payload, uint32_t slot);
/* s: the shard, to filter a list with many stale entries; slot is being
 * removed (its payload is still the old one). */
void hx__pidx_remove(const hx__index_def *def, hx__pidx *p, const hx__shard *s, const json_t *payload,
                     uint32_t slot);
/* Estimated matches of f in s (upper bound when indexed, nlive otherwise). If a
 * candidate list (superset of matches, live slots only) is cheaper than a full
 * scan, *cand gets a malloc'd array and *ncand its size; *exact = 1 when the
 * list is exactly the matches (the filter need not be evaluated again). */
size_t hx__pidx_estimate(const hx__coll *c, hx__shard *s, const hx_vec_filter *f, uint32_t **cand,
                         size_t *ncand, int *exact);
int hx__pidx_check(const hx__coll *c, hx__shard *s, hx_err *err);

/* ---- sparse.c ---- */
void hx__svec_release(hx__svec *v, uint32_t cap);
int hx__svec_reserve(hx__svec *v, uint32_t oldcap, uint32_t cap);
/* Takes ownership of idx/val (sorted, unique). */
int hx__svec_add(hx__svec *v, uint32_t slot, uint32_t *idx, float *val, uint32_t n);
void hx__svec_kill(hx__svec *v, uint32_t slot);
int hx__sparse_search(const hx__coll *c, hx__shard *s, uint32_t vi, const hx_vec_query *q,
                      size_t want, hx__cand *out, size_t *nout, hx_err *err);
int hx__svec_check(hx__shard *s, uint32_t vi, hx_err *err);

/* ---- quant.c ---- */
void hx__quant_release(hx__quant *q);
/* (Re)builds codes for all slots of dv with kind. */
int hx__quant_build(const hx__dense_def *d, hx__dvec *dv, uint32_t n, uint32_t cap, hx_vec_quant kind);
/* Encodes slot (codes must be sized for cap). */
int hx__quant_reserve(const hx__dense_def *d, hx__quant *q, uint32_t cap);
void hx__quant_encode(const hx__dense_def *d, hx__quant *q, uint32_t slot, const float *v);
/* Quantized space + encoded query (qbuf has room for stride bytes). */
void hx__quant_space(hx__space *sp, const hx_vec *db, const hx__dense_def *d, const hx__dvec *dv,
                     const float *qv, uint8_t *qbuf);

/* ---- store.c ---- */
int hx__snapshot_write(hx_vec *db, uint64_t lsn, hx_err *err);
int hx__snapshot_load(hx_vec *db, hx_err *err);

#endif
