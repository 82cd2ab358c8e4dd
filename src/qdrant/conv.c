/*
 * conv.c - Qdrant JSON <-> engine structures: collection config and info,
 * point batches, ids, filters, vector inputs and the with_payload /
 * with_vector selectors. Everything a request allocates lives in its arena.
 */
#include "qdrant/qdrant_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena and error helpers ---- */

void *hx__qd_alloc(hx__qd_arena *a, size_t bytes) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 16;
    void **p = realloc(a->p, cap * sizeof *p);
    if (!p) return NULL;
    a->p = p;
    a->cap = cap;
  }
  void *m = calloc(1, bytes ? bytes : 1);
  if (m) a->p[a->n++] = m;
  return m;
}

void hx__qd_arena_release(hx__qd_arena *a) {
  for (size_t i = 0; i < a->n; i++) free(a->p[i]);
  free(a->p);
  memset(a, 0, sizeof *a);
}

int hx__qd_bad(hx_err *err, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return hx_err_setst(err, HX_EBADREQ, 400, "Format error in JSON body: %s", msg);
}

#define OOM(err) hx_err_set(err, HX_ENOMEM, "out of memory")

int hx__qd_get_bool(const json_t *o, const char *key, int dflt, int *out, hx_err *err) {
  const json_t *v = o ? json_object_get(o, key) : NULL;
  if (!v || json_is_null(v)) {
    *out = dflt;
    return 0;
  }
  if (!json_is_boolean(v)) return hx__qd_bad(err, "%s: expected a boolean", key);
  *out = json_is_true(v);
  return 0;
}

int hx__qd_get_uint(const json_t *o, const char *key, uint64_t dflt, uint64_t max, uint64_t *out, hx_err *err) {
  const json_t *v = o ? json_object_get(o, key) : NULL;
  if (!v || json_is_null(v)) {
    *out = dflt;
    return 0;
  }
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return hx__qd_bad(err, "%s: expected a non-negative integer", key);
  if ((uint64_t)json_integer_value(v) > max) return hx__qd_bad(err, "%s: must be at most %llu", key, (unsigned long long)max);
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

/* ---- collections ---- */

int hx__qd_coll_load(hx_vec *db, const char *name, hx__qd_coll *c, hx_err *err) {
  memset(c, 0, sizeof *c);
  hx_err e2 = {0};
  int rc = hx_vec_collection_info(db, name, &c->info, &e2);
  if (rc == HX_ENOENT) return hx_err_setst(err, HX_ENOENT, 404, "Not found: Collection `%s` doesn't exist!", name);
  if (rc) return hx_err_set(err, rc, "%s", e2.msg);
  c->name = name;
  json_t *cfg = json_object_get(c->info, "config"), *v;
  size_t i;
  json_array_foreach(json_object_get(cfg, "dense"), i, v) {
    if (c->ndense == HX__QD_MAX_VECTORS) break;
    c->dense[c->ndense] = json_string_value(json_object_get(v, "name"));
    c->dim[c->ndense] = (uint32_t)json_integer_value(json_object_get(v, "dim"));
    c->euclid[c->ndense] = !strcmp(json_string_value(json_object_get(v, "distance")), "Euclid");
    c->ndense++;
  }
  json_array_foreach(json_object_get(cfg, "sparse"), i, v) {
    if (c->nsparse == HX__QD_MAX_VECTORS) break;
    c->sparse[c->nsparse++] = json_string_value(json_object_get(v, "name"));
  }
  json_t *t = json_object_get(json_object_get(c->info, "tenants"), HX_QDRANT_TENANT);
  c->points = t ? (size_t)json_integer_value(json_object_get(t, "points")) : 0;
  return 0;
}

void hx__qd_coll_release(hx__qd_coll *c) {
  json_decref(c->info);
  c->info = NULL;
}

int hx__qd_dense_index(const hx__qd_coll *c, const char *name) {
  for (size_t i = 0; i < c->ndense; i++)
    if (!strcmp(c->dense[i], name ? name : "")) return (int)i;
  return -1;
}

int hx__qd_sparse_index(const hx__qd_coll *c, const char *name) {
  for (size_t i = 0; i < c->nsparse; i++)
    if (!strcmp(c->sparse[i], name ? name : "")) return (int)i;
  return -1;
}

/* quantization_config: {scalar:{type:int8}} | {binary:{}} | null; product is not supported */
static int parse_quant(const json_t *q, const char *what, hx_vec_quant *out, hx_err *err) {
  if (!q || json_is_null(q)) return 0;
  if (!json_is_object(q)) return hx__qd_bad(err, "%s: expected an object", what);
  const json_t *s = json_object_get(q, "scalar");
  if (s) {
    const char *t = json_string_value(json_object_get(s, "type"));
    if (!t || strcmp(t, "int8")) return hx__qd_bad(err, "%s.scalar.type: expected \"int8\"", what);
    *out = HX_VEC_QUANT_INT8;
    return 0;
  }
  if (json_object_get(q, "binary")) {
    *out = HX_VEC_QUANT_BINARY;
    return 0;
  }
  if (json_object_get(q, "product"))
    return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: %s: product quantization is not supported", what);
  return hx__qd_bad(err, "%s: expected scalar or binary", what);
}

static int parse_hnsw(const json_t *h, const char *what, uint32_t *m, uint32_t *efc, hx_err *err) {
  if (!h || json_is_null(h)) return 0;
  if (!json_is_object(h)) return hx__qd_bad(err, "%s: expected an object", what);
  uint64_t v = 0;
  int rc;
  if ((rc = hx__qd_get_uint(h, "m", *m, 512, &v, err))) return rc;
  *m = (uint32_t)v;
  if ((rc = hx__qd_get_uint(h, "ef_construct", *efc, 100000, &v, err))) return rc;
  *efc = (uint32_t)v;
  return 0;
}

static int parse_vector_params(const json_t *p, const char *name, uint32_t m, uint32_t efc, hx_vec_quant q,
                               hx_vec_dense_cfg *d, hx_err *err) {
  if (!json_is_object(p)) return hx__qd_bad(err, "vectors.%s: expected an object with size and distance", name);
  const json_t *size = json_object_get(p, "size");
  const char *dist = json_string_value(json_object_get(p, "distance"));
  if (!json_is_integer(size) || json_integer_value(size) < 1 || json_integer_value(size) > 65536)
    return hx__qd_bad(err, "vectors%s%s.size: expected an integer 1..65536", *name ? "." : "", name);
  d->name = name;
  d->dim = (uint32_t)json_integer_value(size);
  if (!dist) return hx__qd_bad(err, "vectors%s%s.distance: missing", *name ? "." : "", name);
  if (!strcmp(dist, "Cosine")) d->distance = HX_VEC_COSINE;
  else if (!strcmp(dist, "Dot")) d->distance = HX_VEC_DOT;
  else if (!strcmp(dist, "Euclid")) d->distance = HX_VEC_EUCLID;
  else if (!strcmp(dist, "Manhattan"))
    return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: distance Manhattan is not supported");
  else return hx__qd_bad(err, "unknown variant `%s`, expected one of `Cosine`, `Euclid`, `Dot`, `Manhattan`", dist);
  const json_t *mv = json_object_get(p, "multivector_config");
  if (mv && !json_is_null(mv)) return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: multivectors are not supported");
  const char *dt = json_string_value(json_object_get(p, "datatype"));
  if (dt && strcmp(dt, "float32") && strcmp(dt, "float16") && strcmp(dt, "uint8"))
    return hx__qd_bad(err, "vectors.datatype: unknown variant `%s`", dt);
  d->m = m;
  d->ef_construct = efc;
  d->quant = q;
  int rc;
  if ((rc = parse_hnsw(json_object_get(p, "hnsw_config"), "hnsw_config", &d->m, &d->ef_construct, err))) return rc;
  return parse_quant(json_object_get(p, "quantization_config"), "quantization_config", &d->quant, err);
}

int hx__qd_parse_create(const json_t *body, hx__qd_arena *a, hx_vec_collection_cfg *cfg, hx_err *err) {
  memset(cfg, 0, sizeof *cfg);
  if (body && !json_is_object(body)) return hx__qd_bad(err, "expected an object");
  uint32_t m = 0, efc = 0;
  hx_vec_quant q = HX_VEC_QUANT_NONE;
  int rc;
  if ((rc = parse_hnsw(json_object_get(body, "hnsw_config"), "hnsw_config", &m, &efc, err))) return rc;
  if ((rc = parse_quant(json_object_get(body, "quantization_config"), "quantization_config", &q, err))) return rc;
  hx_vec_dense_cfg *d = hx__qd_alloc(a, HX__QD_MAX_VECTORS * sizeof *d);
  hx_vec_sparse_cfg *s = hx__qd_alloc(a, HX__QD_MAX_VECTORS * sizeof *s);
  if (!d || !s) return OOM(err);
  const json_t *vectors = json_object_get(body, "vectors"), *v;
  const char *k;
  if (vectors && json_is_object(vectors) && json_object_get(vectors, "size")) {
    if ((rc = parse_vector_params(vectors, "", m, efc, q, &d[0], err))) return rc;
    cfg->ndense = 1;
  } else if (vectors && json_is_object(vectors)) {
    json_object_foreach((json_t *)vectors, k, v) {
      if (cfg->ndense == HX__QD_MAX_VECTORS) return hx__qd_bad(err, "vectors: at most %d", HX__QD_MAX_VECTORS);
      if ((rc = parse_vector_params(v, k, m, efc, q, &d[cfg->ndense], err))) return rc;
      cfg->ndense++;
    }
  } else if (vectors && !json_is_null(vectors)) {
    return hx__qd_bad(err, "vectors: expected an object");
  }
  const json_t *sparse = json_object_get(body, "sparse_vectors");
  if (sparse && !json_is_null(sparse)) {
    if (!json_is_object(sparse)) return hx__qd_bad(err, "sparse_vectors: expected an object");
    json_object_foreach((json_t *)sparse, k, v) {
      if (cfg->nsparse == HX__QD_MAX_VECTORS) return hx__qd_bad(err, "sparse_vectors: at most %d", HX__QD_MAX_VECTORS);
      if (!json_is_object(v)) return hx__qd_bad(err, "sparse_vectors.%s: expected an object", k);
      const char *mod = json_string_value(json_object_get(v, "modifier"));
      if (mod && strcmp(mod, "idf") && strcmp(mod, "none"))
        return hx__qd_bad(err, "sparse_vectors.%s.modifier: unknown variant `%s`, expected `none` or `idf`", k, mod);
      for (size_t i = 0; i < cfg->ndense; i++)
        if (!strcmp(d[i].name, k)) return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: vector name `%s` is used twice", k);
      s[cfg->nsparse].name = k;
      s[cfg->nsparse].idf = mod && !strcmp(mod, "idf");
      cfg->nsparse++;
    }
  }
  if (!cfg->ndense && !cfg->nsparse)
    return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: a collection needs at least one dense or sparse vector");
  cfg->dense = d;
  cfg->sparse = s;
  return 0;
}

static json_t *quant_json(const char *q) {
  if (!strcmp(q, "int8")) return json_pack("{s:{s:s}}", "scalar", "type", "int8");
  if (!strcmp(q, "binary")) return json_pack("{s:{}}", "binary");
  return NULL;
}

json_t *hx__qd_info_json(const hx__qd_coll *c) {
  json_t *cfg = json_object_get(c->info, "config"), *v;
  json_t *dense = json_object_get(cfg, "dense");
  json_t *vectors = json_object(), *sparse = json_object(), *schema = json_object();
  json_int_t m = 16, efc = 100;
  size_t i;
  json_array_foreach(dense, i, v) {
    json_t *p = json_pack("{s:I,s:s}", "size", json_integer_value(json_object_get(v, "dim")), "distance",
                          json_string_value(json_object_get(v, "distance")));
    json_t *q = quant_json(json_string_value(json_object_get(v, "quantization")));
    if (q) json_object_set_new(p, "quantization_config", q);
    json_object_set_new(p, "hnsw_config", json_pack("{s:I,s:I}", "m", json_integer_value(json_object_get(v, "m")),
                                                    "ef_construct", json_integer_value(json_object_get(v, "ef_construct"))));
    if (i == 0) {
      m = json_integer_value(json_object_get(v, "m"));
      efc = json_integer_value(json_object_get(v, "ef_construct"));
    }
    const char *name = json_string_value(json_object_get(v, "name"));
    if (json_array_size(dense) == 1 && !*name) {
      json_decref(vectors);
      vectors = p;
    } else {
      json_object_set_new(vectors, name, p);
    }
  }
  json_array_foreach(json_object_get(cfg, "sparse"), i, v)
    json_object_set_new(sparse, json_string_value(json_object_get(v, "name")),
                        json_is_true(json_object_get(v, "idf")) ? json_pack("{s:s}", "modifier", "idf") : json_object());
  json_array_foreach(json_object_get(cfg, "indexes"), i, v)
    json_object_set_new(schema, json_string_value(json_object_get(v, "key")),
                        json_pack("{s:s,s:I}", "data_type", json_string_value(json_object_get(v, "type")), "points",
                                  (json_int_t)c->points));
  json_t *params = json_pack("{s:o,s:i,s:i,s:i,s:b}", "vectors", vectors, "shard_number", 1, "replication_factor", 1,
                             "write_consistency_factor", 1, "on_disk_payload", 0);
  if (json_object_size(sparse)) json_object_set_new(params, "sparse_vectors", sparse);
  else json_decref(sparse);
  json_t *config = json_pack(
      "{s:o,s:{s:I,s:I,s:I},s:{s:f,s:i,s:i,s:i,s:n,s:i},s:{s:i,s:i},s:n}", "params", params, "hnsw_config", "m", m,
      "ef_construct", efc, "full_scan_threshold", (json_int_t)json_integer_value(json_object_get(cfg, "index_threshold")),
      "optimizer_config", "deleted_threshold", 0.2, "vacuum_min_vector_number", 1000, "default_segment_number", 0,
      "flush_interval_sec", 5, "max_optimization_threads", "indexing_threshold", 10000, "wal_config", "wal_capacity_mb",
      32, "wal_segments_ahead", 0, "quantization_config");
  return json_pack("{s:s,s:s,s:I,s:I,s:i,s:o,s:o}", "status", "green", "optimizer_status", "ok",
                   "indexed_vectors_count", (json_int_t)c->points, "points_count", (json_int_t)c->points,
                   "segments_count", 1, "config", config, "payload_schema", schema);
}

/* ---- ids ---- */

static int parse_id(const json_t *j, const char *what, hx_vec_id *id, hx_err *err) {
  hx_err e2 = {0};
  if (json_is_integer(j) && json_integer_value(j) < 0)
    return hx__qd_bad(err, "%s: point id must be an unsigned integer or a UUID", what);
  if (hx_vec_id_from_json(j, id, &e2))
    return hx__qd_bad(err, "%s: point id must be an unsigned integer or a UUID", what);
  return 0;
}

int hx__qd_parse_ids(const json_t *arr, const char *what, hx__qd_arena *a, hx_vec_id **ids, size_t *n, hx_err *err) {
  if (!json_is_array(arr)) return hx__qd_bad(err, "%s: expected an array of point ids", what);
  if (json_array_size(arr) > HX__QD_MAX_LIMIT) return hx__qd_bad(err, "%s: at most %d ids", what, HX__QD_MAX_LIMIT);
  *n = json_array_size(arr);
  *ids = hx__qd_alloc(a, (*n ? *n : 1) * sizeof **ids);
  if (!*ids) return OOM(err);
  size_t i;
  json_t *v;
  char w[96];
  json_array_foreach(arr, i, v) {
    snprintf(w, sizeof w, "%s[%zu]", what, i);
    int rc = parse_id(v, w, &(*ids)[i], err);
    if (rc) return rc;
  }
  return 0;
}

int hx__qd_parse_filter(const json_t *j, hx_vec_filter **f, hx_err *err) {
  *f = NULL;
  if (!j || json_is_null(j)) return 0;
  hx_err e2 = {0};
  if (hx_vec_filter_parse(j, f, &e2)) return hx__qd_bad(err, "%s", e2.msg);
  return 0;
}

/* ---- vectors ---- */

static int parse_dense(const json_t *arr, const char *what, hx__qd_arena *a, float **out, uint32_t *dim, hx_err *err) {
  size_t n = json_array_size(arr);
  if (n == 0 || n > 65536) return hx__qd_bad(err, "%s: expected 1..65536 numbers", what);
  float *f = hx__qd_alloc(a, n * sizeof *f);
  if (!f) return OOM(err);
  size_t i;
  json_t *x;
  json_array_foreach(arr, i, x) {
    if (!json_is_number(x)) {
      if (json_is_array(x)) return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: multivectors are not supported");
      return hx__qd_bad(err, "%s[%zu]: expected a number", what, i);
    }
    double d = json_number_value(x);
    if (!isfinite(d) || fabs(d) > 3.4e38) return hx__qd_bad(err, "%s[%zu]: not a finite float", what, i);
    f[i] = (float)d;
  }
  *out = f;
  *dim = (uint32_t)n;
  return 0;
}

static int parse_sparse(const json_t *o, const char *what, hx__qd_arena *a, uint32_t **idx, float **val, uint32_t *n,
                        hx_err *err) {
  const json_t *ji = json_object_get(o, "indices"), *jv = json_object_get(o, "values");
  if (!json_is_array(ji) || !json_is_array(jv)) return hx__qd_bad(err, "%s: expected {indices, values}", what);
  size_t k = json_array_size(ji);
  if (k != json_array_size(jv))
    return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: %s: indices and values must have the same length", what);
  if (k > 1000000) return hx__qd_bad(err, "%s: too many entries", what);
  *idx = hx__qd_alloc(a, (k ? k : 1) * sizeof **idx);
  *val = hx__qd_alloc(a, (k ? k : 1) * sizeof **val);
  if (!*idx || !*val) return OOM(err);
  for (size_t i = 0; i < k; i++) {
    const json_t *x = json_array_get(ji, i), *y = json_array_get(jv, i);
    if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > UINT32_MAX)
      return hx__qd_bad(err, "%s.indices[%zu]: expected a u32", what, i);
    if (!json_is_number(y) || !isfinite(json_number_value(y)))
      return hx__qd_bad(err, "%s.values[%zu]: expected a finite number", what, i);
    (*idx)[i] = (uint32_t)json_integer_value(x);
    (*val)[i] = (float)json_number_value(y);
  }
  /* Qdrant rejects duplicate indices in one sparse vector */
  for (size_t i = 0; i < k && k <= 4096; i++)
    for (size_t j = i + 1; j < k; j++)
      if ((*idx)[i] == (*idx)[j])
        return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: %s: duplicate index %u", what, (*idx)[i]);
  *n = (uint32_t)k;
  return 0;
}

int hx__qd_parse_vector_input(const json_t *v, const char *what, hx__qd_arena *a, hx_vec_query *q, hx_err *err) {
  if (json_is_array(v)) {
    float *f;
    int rc = parse_dense(v, what, a, &f, &q->dim, err);
    q->v = f;
    return rc;
  }
  if (json_is_object(v) && json_object_get(v, "indices")) {
    uint32_t *idx;
    float *val;
    int rc = parse_sparse(v, what, a, &idx, &val, &q->sp_n, err);
    q->sp_idx = idx;
    q->sp_val = val;
    return rc;
  }
  return hx__qd_bad(err, "%s: expected a vector, a sparse vector or a point id", what);
}

/* Room for the named vectors of one point. */
static int point_vectors_init(hx__qd_arena *a, hx_vec_point *p, hx_err *err) {
  hx_vec_dense *d = hx__qd_alloc(a, HX__QD_MAX_VECTORS * sizeof *d);
  hx_vec_sparse *s = hx__qd_alloc(a, HX__QD_MAX_VECTORS * sizeof *s);
  if (!d || !s) return OOM(err);
  p->dense = d;
  p->sparse = s;
  return 0;
}

/* Adds vector x named k (borrowed: must outlive the point) to p. */
static int add_named(const char *k, const json_t *x, const char *what, hx__qd_arena *a, hx_vec_point *p, hx_err *err) {
  hx_vec_dense *d = (hx_vec_dense *)p->dense;
  hx_vec_sparse *s = (hx_vec_sparse *)p->sparse;
  char w[160];
  int rc;
  snprintf(w, sizeof w, "%s.%s", what, k);
  if (p->ndense + p->nsparse == HX__QD_MAX_VECTORS) return hx__qd_bad(err, "%s: too many vectors", what);
  if (json_is_array(x)) {
    float *f;
    if ((rc = parse_dense(x, w, a, &f, &d[p->ndense].dim, err))) return rc;
    d[p->ndense].name = k;
    d[p->ndense++].v = f;
  } else if (json_is_object(x) && json_object_get(x, "indices")) {
    uint32_t *idx;
    float *val;
    if ((rc = parse_sparse(x, w, a, &idx, &val, &s[p->nsparse].n, err))) return rc;
    s[p->nsparse].name = k;
    s[p->nsparse].idx = idx;
    s[p->nsparse++].val = val;
  } else if (json_is_object(x)) {
    return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: %s: inference objects (text, image, document) are not supported", w);
  } else if (!json_is_null(x)) {
    return hx__qd_bad(err, "%s: expected a vector or a sparse vector", w);
  }
  return 0;
}

/* VectorStruct of one point: [floats] | {name: [floats] | {indices, values}} */
static int parse_vector_struct(const json_t *v, const char *what, hx__qd_arena *a, hx_vec_point *p, hx_err *err) {
  int rc = point_vectors_init(a, p, err);
  if (rc) return rc;
  if (json_is_array(v)) return add_named("", v, what, a, p, err);
  if (!json_is_object(v)) return hx__qd_bad(err, "%s: expected a vector or an object of named vectors", what);
  const char *k;
  json_t *x;
  json_object_foreach((json_t *)v, k, x) if ((rc = add_named(k, x, what, a, p, err))) return rc;
  return 0;
}

static int check_payload(const json_t *pl, const char *what, hx_err *err) {
  if (pl && !json_is_null(pl) && !json_is_object(pl)) return hx__qd_bad(err, "%s: expected an object", what);
  return 0;
}

static int parse_points_list(const json_t *arr, hx__qd_arena *a, hx_vec_point **pts, size_t *n, hx_err *err) {
  if (!json_is_array(arr)) return hx__qd_bad(err, "points: expected an array");
  *n = json_array_size(arr);
  if (*n > HX__QD_MAX_LIMIT) return hx__qd_bad(err, "points: at most %d per request", HX__QD_MAX_LIMIT);
  hx_vec_point *p = hx__qd_alloc(a, (*n ? *n : 1) * sizeof *p);
  if (!p) return OOM(err);
  size_t i;
  json_t *o;
  char w[64];
  json_array_foreach(arr, i, o) {
    int rc;
    snprintf(w, sizeof w, "points[%zu]", i);
    if (!json_is_object(o)) return hx__qd_bad(err, "%s: expected an object", w);
    snprintf(w, sizeof w, "points[%zu].id", i);
    if ((rc = parse_id(json_object_get(o, "id"), w, &p[i].id, err))) return rc;
    const json_t *v = json_object_get(o, "vector");
    snprintf(w, sizeof w, "points[%zu].vector", i);
    if (!v) return hx__qd_bad(err, "%s: missing field `vector`", w);
    if ((rc = parse_vector_struct(v, w, a, &p[i], err))) return rc;
    json_t *pl = json_object_get(o, "payload");
    snprintf(w, sizeof w, "points[%zu].payload", i);
    if ((rc = check_payload(pl, w, err))) return rc;
    p[i].payload = json_is_object(pl) ? pl : NULL;
  }
  *pts = p;
  return 0;
}

static int parse_batch(const json_t *b, hx__qd_arena *a, hx_vec_point **pts, size_t *n, hx_err *err) {
  if (!json_is_object(b)) return hx__qd_bad(err, "batch: expected an object");
  hx_vec_id *ids;
  int rc;
  if ((rc = hx__qd_parse_ids(json_object_get(b, "ids"), "batch.ids", a, &ids, n, err))) return rc;
  hx_vec_point *p = hx__qd_alloc(a, (*n ? *n : 1) * sizeof *p);
  if (!p) return OOM(err);
  const json_t *vecs = json_object_get(b, "vectors"), *pls = json_object_get(b, "payloads");
  if (pls && !json_is_null(pls) && (!json_is_array(pls) || json_array_size(pls) != *n))
    return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: batch.payloads must have one entry per id");
  char w[96];
  if (json_is_array(vecs)) {
    if (json_array_size(vecs) != *n)
      return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: batch.vectors must have one vector per id");
    for (size_t i = 0; i < *n; i++) {
      snprintf(w, sizeof w, "batch.vectors[%zu]", i);
      if ((rc = parse_vector_struct(json_array_get(vecs, i), w, a, &p[i], err))) return rc;
    }
  } else if (json_is_object(vecs)) {
    /* {name: [vector per id]}: names are borrowed from the body */
    const char *k;
    json_t *col;
    json_object_foreach((json_t *)vecs, k, col) if (!json_is_array(col) || json_array_size(col) != *n)
      return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: batch.vectors.%s must have one vector per id", k);
    for (size_t i = 0; i < *n; i++) {
      snprintf(w, sizeof w, "batch.vectors[%zu]", i);
      if ((rc = point_vectors_init(a, &p[i], err))) return rc;
      json_object_foreach((json_t *)vecs, k, col) if ((rc = add_named(k, json_array_get(col, i), w, a, &p[i], err))) return rc;
    }
  } else {
    return hx__qd_bad(err, "batch.vectors: expected an array or an object of named vectors");
  }
  for (size_t i = 0; i < *n; i++) {
    p[i].id = ids[i];
    json_t *pl = json_array_get(pls, i);
    snprintf(w, sizeof w, "batch.payloads[%zu]", i);
    if ((rc = check_payload(pl, w, err))) return rc;
    p[i].payload = json_is_object(pl) ? pl : NULL;
  }
  *pts = p;
  return 0;
}

int hx__qd_parse_points(const json_t *body, hx__qd_arena *a, hx_vec_point **pts, size_t *n, hx_err *err) {
  if (!json_is_object(body)) return hx__qd_bad(err, "expected an object with points or batch");
  if (json_object_get(body, "points")) return parse_points_list(json_object_get(body, "points"), a, pts, n, err);
  if (json_object_get(body, "batch")) return parse_batch(json_object_get(body, "batch"), a, pts, n, err);
  return hx__qd_bad(err, "data did not match any variant of untagged enum PointInsertOperations");
}

/* ---- selectors ---- */

static int keys_array(const json_t *v, const char *what, hx_err *err) {
  size_t i;
  json_t *x;
  if (!json_is_array(v)) return hx__qd_bad(err, "%s: expected an array of keys", what);
  json_array_foreach(v, i, x) if (!json_is_string(x)) return hx__qd_bad(err, "%s[%zu]: expected a string", what, i);
  return 0;
}

int hx__qd_parse_sel(const json_t *body, int payload_default, hx__qd_sel *sel, hx_err *err) {
  memset(sel, 0, sizeof *sel);
  const json_t *wp = json_object_get(body, "with_payload"), *wv = json_object_get(body, "with_vector");
  if (!wv) wv = json_object_get(body, "with_vectors");
  int rc;
  sel->payload = payload_default;
  if (wp && !json_is_null(wp)) {
    if (json_is_boolean(wp)) {
      sel->payload = json_is_true(wp);
    } else if (json_is_array(wp)) {
      if ((rc = keys_array(wp, "with_payload", err))) return rc;
      sel->payload = 1;
      sel->include = wp;
    } else if (json_is_object(wp) && json_object_get(wp, "include")) {
      if ((rc = keys_array(json_object_get(wp, "include"), "with_payload.include", err))) return rc;
      sel->payload = 1;
      sel->include = json_object_get(wp, "include");
    } else if (json_is_object(wp) && json_object_get(wp, "exclude")) {
      if ((rc = keys_array(json_object_get(wp, "exclude"), "with_payload.exclude", err))) return rc;
      sel->payload = 1;
      sel->exclude = json_object_get(wp, "exclude");
    } else {
      return hx__qd_bad(err, "with_payload: expected a boolean, a list of keys, {include} or {exclude}");
    }
  }
  if (wv && !json_is_null(wv)) {
    if (json_is_boolean(wv)) {
      sel->vector = json_is_true(wv);
    } else if (json_is_array(wv)) {
      if ((rc = keys_array(wv, "with_vector", err))) return rc;
      sel->vector = 1;
      sel->names = wv;
    } else {
      return hx__qd_bad(err, "with_vector: expected a boolean or a list of vector names");
    }
  }
  return 0;
}

int hx__qd_sel_flags(const hx__qd_sel *sel) {
  return (sel->payload ? HX_VEC_WITH_PAYLOAD : 0) | (sel->vector ? HX_VEC_WITH_VECTORS : 0);
}

static int in_keys(const json_t *arr, const char *k) {
  size_t i;
  json_t *x;
  json_array_foreach(arr, i, x) {
    const char *s = json_string_value(x);
    size_t n = strlen(s);
    /* "a" selects "a"; a dotted "a.b" selects the top-level key a as a whole */
    if (!strcmp(s, k) || (!strncmp(s, k, strlen(k)) && s[strlen(k)] == '.') || (n == 0 && !*k)) return 1;
  }
  return 0;
}

/* Qdrant writes "payload": null and "vector": null when they were not asked for. */
void hx__qd_put_selected(json_t *obj, const hx__qd_coll *c, const hx_vec_record *r, const hx__qd_sel *sel) {
  if (!sel->payload) json_object_set_new(obj, "payload", json_null());
  if (!sel->vector) json_object_set_new(obj, "vector", json_null());
  if (sel->payload) {
    json_t *pl = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(r->payload, k, v) {
      if (sel->include && !in_keys(sel->include, k)) continue;
      if (sel->exclude && in_keys(sel->exclude, k)) continue;
      json_object_set(pl, k, v);
    }
    json_object_set_new(obj, "payload", pl);
  }
  if (sel->vector) {
    json_t *vec = NULL;
    for (size_t i = 0; i < r->nvec && i < c->ndense; i++) {
      if (!r->vectors[i]) continue;
      if (sel->names && !in_keys(sel->names, c->dense[i])) continue;
      json_t *arr = json_array();
      for (uint32_t j = 0; j < r->dims[i]; j++) json_array_append_new(arr, json_real(r->vectors[i][j]));
      if (c->ndense == 1 && !*c->dense[0]) {
        vec = arr;
        break;
      }
      if (!vec) vec = json_object();
      json_object_set_new(vec, c->dense[i], arr);
    }
    json_object_set_new(obj, "vector", vec ? vec : json_object());
  }
}
