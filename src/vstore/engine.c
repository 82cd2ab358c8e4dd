/*
 * engine.c - the vector store on the built-in engine (src/vec): one engine
 * database in the data dir, the org id as the tenant partition, so a query
 * can only ever see its own org's shard. Collections are created with a
 * Cosine dense vector, the sparse vector HX_SPARSE_VECTOR (IDF modifier) and
 * keyword indexes on the payload keys heimdex filters by.
 */
#include "vstore/vstore.h"
#include "vec/vec.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  hx_vstore base;
  hx_vec *db;
  int lockfd;       /* flock'd LOCK file: one process owns the engine */
  pthread_mutex_t mu;
  char ready[64];   /* last collection ensure() found with ready_dim */
  int ready_dim;
} eng_store;

#define ES(s) ((eng_store *)(s))

static const char *const INDEXED_KEYS[] = {"asset_id", "segment_id", "model", "model_ver", "source_type"};

static hx_vec_id to_vid(const hx_uuid *u) {
  hx_vec_id v = {.is_uuid = 1};
  memcpy(v.uuid, u->b, 16);
  return v;
}

static int from_vid(const hx_vec_id *v, hx_uuid *u) {
  if (!v->is_uuid) return -1;  /* heimdex's own points are always UUIDs */
  memcpy(u->b, v->uuid, 16);
  return 0;
}

/* The collection's dense dimension, 0 when it does not exist. */
static int coll_dim(hx_vec *db, const char *coll, int *dim, hx_err *err) {
  json_t *info = NULL;
  hx_err e2 = {0};
  int rc = hx_vec_collection_info(db, coll, &info, &e2);
  *dim = 0;
  if (rc == HX_ENOENT) return 0;
  if (rc) return hx_err_set(err, rc, "%s", e2.msg);
  json_t *d0 = json_array_get(json_object_get(json_object_get(info, "config"), "dense"), 0);
  *dim = (int)json_integer_value(json_object_get(d0, "dim"));
  json_decref(info);
  return 0;
}

static int create_coll(hx_vec *db, const char *coll, int dim, hx_err *err) {
  hx_vec_dense_cfg dense = {.name = "", .dim = (uint32_t)dim, .distance = HX_VEC_COSINE};
  hx_vec_sparse_cfg sparse = {.name = HX_SPARSE_VECTOR, .idf = 1};
  hx_vec_collection_cfg cfg = {.dense = &dense, .ndense = 1, .sparse = &sparse, .nsparse = 1};
  int rc = hx_vec_collection_create(db, coll, &cfg, err);
  if (rc == HX_EEXIST) return 0;  /* a concurrent ensure won */
  for (size_t i = 0; !rc && i < sizeof INDEXED_KEYS / sizeof *INDEXED_KEYS; i++)
    rc = hx_vec_index_create(db, coll, INDEXED_KEYS[i], HX_VEC_INDEX_KEYWORD, err);
  return rc;
}

static int es_ensure(hx_vstore *s, const char *coll, int dim, hx_err *err) {
  eng_store *e = ES(s);
  pthread_mutex_lock(&e->mu);
  int rc = 0, have = 0;
  if (!strcmp(e->ready, coll) && e->ready_dim == dim) goto out;
  if ((rc = coll_dim(e->db, coll, &have, err))) goto out;
  if (!have) rc = create_coll(e->db, coll, dim, err);
  else if (have != dim)
    rc = hx_err_set(err, HX_EINVAL, "collection %s has dimension %d, not %d", coll, have, dim);
  if (!rc) {
    snprintf(e->ready, sizeof e->ready, "%s", coll);
    e->ready_dim = dim;
  }
out:
  pthread_mutex_unlock(&e->mu);
  return rc;
}

static int es_upsert(hx_vstore *s, const char *coll, const char *org, const hx_vpoint *pts, size_t n, hx_err *err) {
  hx_vec_point *vp = calloc(n ? n : 1, sizeof *vp);
  hx_vec_dense *dv = calloc(n ? n : 1, sizeof *dv);
  hx_vec_sparse *sv = calloc(n ? n : 1, sizeof *sv);
  int rc;
  if (!vp || !dv || !sv) {
    rc = hx_err_set(err, HX_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    dv[i] = (hx_vec_dense){.name = "", .v = pts[i].vec, .dim = (uint32_t)pts[i].dim};
    sv[i] = (hx_vec_sparse){.name = HX_SPARSE_VECTOR, .idx = pts[i].sp_idx, .val = pts[i].sp_val, .n = pts[i].sp_n};
    vp[i] = (hx_vec_point){.id = to_vid(&pts[i].id), .dense = &dv[i], .ndense = 1, .sparse = &sv[i],
                           .nsparse = pts[i].sp_n ? 1 : 0, .payload = pts[i].payload};
  }
  rc = hx_vec_upsert(ES(s)->db, coll, org, vp, n, err);
out:
  free(vp);
  free(dv);
  free(sv);
  return rc;
}

static int es_get(hx_vstore *s, const char *coll, const char *org, const hx_uuid *id, float **vec, int *dim,
                  json_t **payload, hx_err *err) {
  hx_vec_id vid = to_vid(id);
  hx_vec_record r = {0};
  *vec = NULL;
  *payload = NULL;
  int rc = hx_vec_get(ES(s)->db, coll, org, &vid, HX_VEC_WITH_PAYLOAD | HX_VEC_WITH_VECTORS, &r, err);
  if (rc == HX_ENOENT) return hx_err_set(err, HX_ENOENT, "Point not found");
  if (rc) return rc;
  if (r.nvec && r.vectors[0]) {
    *vec = r.vectors[0];
    *dim = (int)r.dims[0];
    r.vectors[0] = NULL;
  } else {
    *dim = 0;
  }
  *payload = r.payload;
  r.payload = NULL;
  hx_vec_record_release(&r);
  return 0;
}

static int es_del(hx_vstore *s, const char *coll, const char *org, const hx_uuid *ids, size_t n, size_t *deleted,
                  hx_err *err) {
  hx_vec_id *v = malloc((n ? n : 1) * sizeof *v);
  if (!v) return hx_err_set(err, HX_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) v[i] = to_vid(&ids[i]);
  size_t d = 0;
  int rc = hx_vec_delete(ES(s)->db, coll, org, v, n, &d, err);
  free(v);
  if (rc == HX_ENOENT) rc = 0, d = 0;  /* no collection: nothing to delete */
  if (deleted) *deleted = d;
  return rc;
}

/* Compiles an optional client filter. */
static int compile(const json_t *filter, hx_vec_filter **f, hx_err *err) {
  *f = NULL;
  return filter && !json_is_null(filter) ? hx_vec_filter_parse(filter, f, err) : 0;
}

static int es_del_where(hx_vstore *s, const char *coll, const char *org, const json_t *filter, size_t *deleted,
                        hx_err *err) {
  hx_vec_filter *f;
  int rc = compile(filter, &f, err);
  size_t d = 0;
  if (!rc) rc = hx_vec_delete_by_filter(ES(s)->db, coll, org, f, &d, err);
  if (rc == HX_ENOENT) rc = 0, d = 0;
  hx_vec_filter_free(f);
  if (deleted) *deleted = d;
  return rc;
}

static int es_count(hx_vstore *s, const char *coll, const char *org, const json_t *filter, size_t *n, hx_err *err) {
  hx_vec_filter *f;
  int rc = compile(filter, &f, err);
  *n = 0;
  if (!rc) rc = hx_vec_count(ES(s)->db, coll, org, f, 1, n, err);
  if (rc == HX_ENOENT) rc = 0, *n = 0;
  hx_vec_filter_free(f);
  return rc;
}

static int es_total(hx_vstore *s, size_t *n, size_t *pending, hx_err *err) {
  json_t *names = NULL, *name;
  size_t i;
  *n = 0;
  if (pending) *pending = 0;
  int rc = hx_vec_collection_list(ES(s)->db, &names, err);
  json_array_foreach(names, i, name) {
    json_t *info = NULL;
    if (hx_vec_collection_info(ES(s)->db, json_string_value(name), &info, err) == 0) {
      *n += (size_t)json_integer_value(json_object_get(info, "points_count"));
      if (pending) *pending += (size_t)json_integer_value(json_object_get(info, "pending_index"));
    }
    json_decref(info);
  }
  json_decref(names);
  return rc;
}

static int es_search(hx_vstore *s, const char *coll, const char *org, const hx_vquery *q, hx_vhit *hits,
                     size_t *nhits, hx_err *err) {
  *nhits = 0;
  hx_vec_filter *f;
  int rc = compile(q->filter, &f, err);
  if (rc) return rc;
  hx_vec_hit *vh = calloc(q->limit ? q->limit : 1, sizeof *vh);
  if (!vh) {
    hx_vec_filter_free(f);
    return hx_err_set(err, HX_ENOMEM, "out of memory");
  }
  hx_vec_query vq = {.vector = q->sparse ? HX_SPARSE_VECTOR : "", .limit = q->limit, .offset = q->offset,
                     .ef = q->ef, .exact = q->exact, .has_threshold = q->has_threshold,
                     .score_threshold = q->threshold, .filter = f,
                     .with = (q->with_payload ? HX_VEC_WITH_PAYLOAD : 0) | (q->with_vector ? HX_VEC_WITH_VECTORS : 0)};
  if (q->sparse) {
    vq.sp_idx = q->sp_idx;
    vq.sp_val = q->sp_val;
    vq.sp_n = q->sp_n;
  } else {
    vq.v = q->vec;
    vq.dim = (uint32_t)q->dim;
  }
  size_t n = 0;
  rc = q->limit ? hx_vec_search(ES(s)->db, coll, org, &vq, vh, &n, err) : 0;
  if (rc == HX_ENOENT) rc = 0, n = 0;  /* no collection yet: nothing found */
  size_t k = 0;
  for (size_t i = 0; !rc && i < n; i++) {
    if (from_vid(&vh[i].id, &hits[k].id)) continue;
    hits[k].score = vh[i].score;
    hits[k].payload = vh[i].payload;
    hits[k].vec = vh[i].vector;
    hits[k].dim = (int)vh[i].dim;
    vh[i].payload = NULL;
    vh[i].vector = NULL;
    k++;
  }
  hx_vec_hits_release(vh, n);
  free(vh);
  hx_vec_filter_free(f);
  *nhits = k;
  return rc;
}

static void es_close(hx_vstore *s) {
  if (!s) return;
  hx_vec_close(ES(s)->db);
  close(ES(s)->lockfd);
  pthread_mutex_destroy(&ES(s)->mu);
  free(s);
}

static const hx_vstore_ops engine_ops = {es_close, es_ensure, es_upsert, es_get, es_del,
                                         es_del_where, es_count, es_total, es_search};

int hx_vstore_open_engine(const char *dir, int sync, hx_vstore **out, hx_err *err) {
  eng_store *s = calloc(1, sizeof *s);
  if (!s) return hx_err_set(err, HX_ENOMEM, "out of memory");
  s->base.ops = &engine_ops;
  pthread_mutex_init(&s->mu, NULL);
  char lock[1024];
  snprintf(lock, sizeof lock, "%s/LOCK", dir);
  int rc = 0;
  if (mkdir(dir, 0700) && errno != EEXIST)
    rc = hx_err_set(err, HX_EIO, "cannot create %s: %s", dir, strerror(errno));
  else if ((s->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
    rc = hx_err_set(err, HX_EIO, "cannot open %s: %s", lock, strerror(errno));
  else if (flock(s->lockfd, LOCK_EX | LOCK_NB))
    rc = hx_err_set(err, HX_EBUSY,
                    "the vector engine in %s is in use by another process (one process owns it; "
                    "run several processes against Qdrant with QDRANT_URL)", dir);
  hx_vec_opts o = {.no_fsync = !sync};
  if (!rc) rc = hx_vec_open(dir, &o, &s->db, err);
  if (rc) {
    if (s->lockfd > 0) close(s->lockfd);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return rc;
  }
  *out = &s->base;
  return 0;
}

struct hx_vec *hx_vstore_engine_db(hx_vstore *s) {
  return s && s->ops == &engine_ops ? ES(s)->db : NULL;
}

void hx_vstore_hits_release(hx_vhit *hits, size_t n) {
  for (size_t i = 0; i < n; i++) {
    json_decref(hits[i].payload);
    free(hits[i].vec);
    hits[i].payload = NULL;
    hits[i].vec = NULL;
  }
}
