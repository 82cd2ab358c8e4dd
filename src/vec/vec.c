/*
 * vec.c - the engine's database, collections and tenant shards: the public
 * mutation API, the one apply path shared by live writes and recovery, and the
 * integrity check.
 *
 * Every mutation is encoded as a log record first and then applied by decoding
 * that same record (hx__apply / apply_shard), so what recovery replays is
 * byte-for-byte what the live path applied. Record payload layouts (after the
 * record header of wal.h; strings are u32 length + bytes; an id is u8 is_uuid,
 * u64 num, u8[16] uuid):
 *
 *   COLL_CREATE  str name, str config JSON (see coll_cfg_json)
 *   COLL_DROP    str name
 *   INDEX        str coll, str key, u8 type (hx_vec_index_type)
 *   INDEX_DROP   str coll, str key
 *   QUANT        str coll, u16 dense vector index, u8 kind (hx_vec_quant)
 *   UPSERT       str coll, str tenant, u32 n, n × { id, u16 ndense,
 *                ndense × {u16 vector index, u32 dim, f32[dim]}, u16 nsparse,
 *                nsparse × {u16 sparse index, u32 cnt, u32[cnt], f32[cnt]},
 *                str payload JSON }
 *   DELETE       str coll, str tenant, u32 n, id[n]
 *   PAYLOAD      str coll, str tenant, u32 n, n × { id, str payload JSON }
 *
 * A point's version is the lsn of the record that last wrote it; replay skips
 * records at or below the snapshot's lsn, so replaying is idempotent.
 */
#include "vec/vec_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOSLOT UINT32_MAX

/* ---- config ---- */

static const char *dist_name(hx_vec_distance d) {
  return d == HX_VEC_COSINE ? "Cosine" : d == HX_VEC_DOT ? "Dot" : "Euclid";
}
static const char *quant_name(hx_vec_quant q) {
  return q == HX_VEC_QUANT_INT8 ? "int8" : q == HX_VEC_QUANT_BINARY ? "binary" : "none";
}
static const char *itype_name(hx_vec_index_type t) {
  static const char *n[] = {"", "keyword", "integer", "float", "bool", "uuid"};
  return t >= 1 && t <= 5 ? n[t] : "";
}

json_t *hx__coll_cfg_json(const hx__coll *c) {
  json_t *d = json_array(), *sp = json_array(), *ix = json_array();
  for (uint32_t i = 0; i < c->ndense; i++)
    json_array_append_new(d, json_pack("{s:s,s:i,s:s,s:i,s:i,s:s}", "name", c->dense[i].name, "dim",
                                       (json_int_t)c->dense[i].dim, "distance",
                                       dist_name(c->dense[i].dist), "m", (json_int_t)c->dense[i].m,
                                       "ef_construct", (json_int_t)c->dense[i].efc, "quantization",
                                       quant_name(c->dense[i].quant)));
  for (uint32_t i = 0; i < c->nsparse; i++)
    json_array_append_new(sp, json_pack("{s:s,s:b}", "name", c->sparse[i].name, "idf", c->sparse[i].idf));
  for (uint32_t i = 0; i < c->nidx; i++)
    json_array_append_new(ix, json_pack("{s:s,s:s}", "key", c->idx[i].key, "type",
                                        itype_name(c->idx[i].type)));
  return json_pack("{s:o,s:o,s:o,s:i}", "dense", d, "sparse", sp, "indexes", ix, "index_threshold",
                   (json_int_t)c->index_threshold);
}

static int parse_enum(const char *s, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (names[i] && s && !strcmp(s, names[i])) return i;
  return -1;
}

void hx__coll_free(hx__coll *c) {
  if (!c) return;
  HX__SMAP_EACH(&c->shards, e) hx__shard_free(c, e->val);
  hx__smap_release(&c->shards);
  for (uint32_t i = 0; i < c->ndense; i++) free(c->dense[i].name);
  for (uint32_t i = 0; i < c->nsparse; i++) free(c->sparse[i].name);
  for (uint32_t i = 0; i < c->nidx; i++) {
    free(c->idx[i].key);
    hx__path_free(c->idx[i].path, c->idx[i].npath);
  }
  free(c->dense);
  free(c->sparse);
  free(c->idx);
  free(c->name);
  pthread_mutex_destroy(&c->smu);
  free(c);
}

static int add_index_def(hx__coll *c, const char *key, hx_vec_index_type t) {
  hx__index_def *n = realloc(c->idx, (c->nidx + 1) * sizeof *n);
  if (!n) return HX_ENOMEM;
  c->idx = n;
  hx__index_def *d = &c->idx[c->nidx];
  memset(d, 0, sizeof *d);
  d->type = t;
  if (!(d->key = strdup(key)) || hx__path_split(key, &d->path, &d->npath)) {
    free(d->key);
    return HX_ENOMEM;
  }
  c->nidx++;
  return 0;
}

hx__coll *hx__coll_new(const char *name, const json_t *cfg, hx_err *err) {
  static const char *const dists[] = {NULL, "Cosine", "Dot", "Euclid"};
  static const char *const quants[] = {"none", "int8", "binary"};
  static const char *const itypes[] = {NULL, "keyword", "integer", "float", "bool", "uuid"};
  hx__coll *c = calloc(1, sizeof *c);
  if (!c || !(c->name = strdup(name))) goto oom;
  pthread_mutex_init(&c->smu, NULL);
  const json_t *d = json_object_get(cfg, "dense"), *sp = json_object_get(cfg, "sparse"),
               *ix = json_object_get(cfg, "indexes");
  c->index_threshold = (uint32_t)json_integer_value(json_object_get(cfg, "index_threshold"));
  size_t i;
  const json_t *e;
  c->dense = calloc(json_array_size(d) + 1, sizeof *c->dense);
  c->sparse = calloc(json_array_size(sp) + 1, sizeof *c->sparse);
  if (!c->dense || !c->sparse) goto oom;
  json_array_foreach(d, i, e) {
    hx__dense_def *dd = &c->dense[c->ndense];
    int di = parse_enum(json_string_value(json_object_get(e, "distance")), dists, 4);
    int qi = parse_enum(json_string_value(json_object_get(e, "quantization")), quants, 3);
    const char *nm = json_string_value(json_object_get(e, "name"));
    json_int_t dim = json_integer_value(json_object_get(e, "dim"));
    if (di < 1 || qi < 0 || !nm || dim < 1 || dim > 65536) {
      hx_err_set(err, HX_EINVAL, "collection config: bad dense vector %zu", i);
      goto fail;
    }
    if (!(dd->name = strdup(nm))) goto oom;
    c->ndense++;
    dd->dim = (uint32_t)dim;
    dd->dist = (hx_vec_distance)di;
    dd->quant = (hx_vec_quant)qi;
    dd->m = (uint32_t)json_integer_value(json_object_get(e, "m"));
    dd->efc = (uint32_t)json_integer_value(json_object_get(e, "ef_construct"));
  }
  json_array_foreach(sp, i, e) {
    const char *nm = json_string_value(json_object_get(e, "name"));
    if (!nm) {
      hx_err_set(err, HX_EINVAL, "collection config: bad sparse vector %zu", i);
      goto fail;
    }
    if (!(c->sparse[c->nsparse].name = strdup(nm))) goto oom;
    c->sparse[c->nsparse++].idf = json_is_true(json_object_get(e, "idf"));
  }
  json_array_foreach(ix, i, e) {
    int t = parse_enum(json_string_value(json_object_get(e, "type")), itypes, 6);
    const char *k = json_string_value(json_object_get(e, "key"));
    if (t < 1 || !k) {
      hx_err_set(err, HX_EINVAL, "collection config: bad index %zu", i);
      goto fail;
    }
    if (add_index_def(c, k, (hx_vec_index_type)t)) goto oom;
  }
  return c;
oom:
  hx_err_set(err, HX_ENOMEM, "out of memory");
fail:
  hx__coll_free(c);
  return NULL;
}

/* ---- shards ---- */

/* Writer-preferring: a stream of searches must not starve upserts (or a
 * snapshot). No code path takes one of these locks twice for reading. */
void hx__rwlock_init(pthread_rwlock_t *l) {
  pthread_rwlockattr_t a;
  pthread_rwlockattr_init(&a);
  pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(l, &a);
  pthread_rwlockattr_destroy(&a);
}

hx__shard *hx__shard_new(const hx__coll *c, const char *tenant) {
  hx__shard *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  hx__rwlock_init(&s->lock);
  s->tenant = strdup(tenant);
  s->dv = calloc(c->ndense + 1, sizeof *s->dv);
  s->sv = calloc(c->nsparse + 1, sizeof *s->sv);
  s->pi = calloc(c->nidx + 1, sizeof *s->pi);
  if (!s->tenant || !s->dv || !s->sv || !s->pi) goto fail;
  for (uint32_t i = 0; i < c->nidx; i++) {
    if (!(s->pi[i] = hx__pidx_new())) goto fail;
    s->npi++;
  }
  for (uint32_t i = 0; i < c->ndense; i++) { /* codes get a data range when the graph is built */
    s->dv[i].q.kind = c->dense[i].quant;
    s->dv[i].q.lo = -1;
    s->dv[i].q.step = 2.0f / 255;
  }
  return s;
fail:
  hx__shard_free(c, s);
  return NULL;
}

void hx__shard_free(const hx__coll *c, hx__shard *s) {
  if (!s) return;
  for (uint32_t i = 0; i < s->n; i++) json_decref(s->payload ? s->payload[i] : NULL);
  for (uint32_t i = 0; s->dv && i < c->ndense; i++) {
    hx__huge_free(s->dv[i].data);
    free(s->dv[i].has);
    hx__hnsw_free(s->dv[i].g);
    hx__quant_release(&s->dv[i].q);
  }
  for (uint32_t i = 0; s->sv && i < c->nsparse; i++) hx__svec_release(&s->sv[i], s->cap);
  for (uint32_t i = 0; i < s->npi; i++) hx__pidx_free(s->pi[i]);
  free(s->pi);
  free(s->dv);
  free(s->sv);
  free(s->ids);
  free(s->ver);
  free(s->dead);
  free(s->payload);
  free(s->idtab);
  free(s->tenant);
  pthread_rwlock_destroy(&s->lock);
  free(s);
}

static uint64_t id_hash(const hx_vec_id *id) {
  if (id->is_uuid) return hx__hash(id->uuid, 16);
  uint64_t x = id->num + 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int hx__shard_idmap_reserve(hx__shard *s, size_t need) {
  if (need * 2 <= s->idcap) return 0;
  size_t nc = s->idcap ? s->idcap : 64;
  while (nc < need * 2) nc *= 2;
  uint32_t *t = malloc(nc * sizeof *t);
  if (!t) return HX_ENOMEM;
  memset(t, 0xff, nc * sizeof *t);
  for (size_t i = 0; i < s->idcap; i++) {
    uint32_t sl = s->idtab[i];
    if (sl == NOSLOT) continue;
    size_t j = id_hash(&s->ids[sl]) & (nc - 1);
    while (t[j] != NOSLOT) j = (j + 1) & (nc - 1);
    t[j] = sl;
  }
  free(s->idtab);
  s->idtab = t;
  s->idcap = nc;
  return 0;
}

uint32_t hx__shard_find(const hx__shard *s, const hx_vec_id *id) {
  if (!s->idcap) return NOSLOT;
  size_t mask = s->idcap - 1;
  for (size_t j = id_hash(id) & mask;; j = (j + 1) & mask) {
    uint32_t sl = s->idtab[j];
    if (sl == NOSLOT) return NOSLOT;
    if (!hx_vec_id_cmp(&s->ids[sl], id)) return sl;
  }
}

int hx__shard_idmap_put(hx__shard *s, uint32_t slot) {
  if (hx__shard_idmap_reserve(s, (size_t)s->nlive + 1)) return HX_ENOMEM;
  size_t mask = s->idcap - 1, j = id_hash(&s->ids[slot]) & mask;
  while (s->idtab[j] != NOSLOT) j = (j + 1) & mask;
  s->idtab[j] = slot;
  return 0;
}

static void idmap_del(hx__shard *s, uint32_t slot) {
  size_t mask = s->idcap - 1, i = id_hash(&s->ids[slot]) & mask;
  while (s->idtab[i] != slot) i = (i + 1) & mask;
  s->idtab[i] = NOSLOT;
  for (size_t j = i;;) {
    j = (j + 1) & mask;
    uint32_t sl = s->idtab[j];
    if (sl == NOSLOT) break;
    size_t home = id_hash(&s->ids[sl]) & mask;
    if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
      s->idtab[i] = sl;
      s->idtab[j] = NOSLOT;
      i = j;
    }
  }
}

#define GROW(ptr, oldc, newc)                                                     \
  do {                                                                            \
    void *np_ = realloc((ptr), (size_t)(newc) * sizeof *(ptr));                   \
    if (!np_) return HX_ENOMEM;                                                   \
    (ptr) = np_;                                                                  \
    memset((ptr) + (oldc), 0, (size_t)((newc) - (oldc)) * sizeof *(ptr));        \
  } while (0)

int hx__shard_reserve(const hx__coll *c, hx__shard *s, uint32_t need) {
  if (need <= s->cap) return 0;
  uint32_t nc = s->cap ? s->cap : 16;
  while (nc < need) nc *= 2;
  GROW(s->ids, s->cap, nc);
  GROW(s->ver, s->cap, nc);
  GROW(s->dead, s->cap, nc);
  GROW(s->payload, s->cap, nc);
  for (uint32_t i = 0; i < c->ndense; i++) {
    hx__dvec *dv = &s->dv[i];
    uint32_t dim = c->dense[i].dim;
    float *d = hx__huge_realloc(dv->data, (size_t)nc * dim * sizeof *d);
    if (!d) return HX_ENOMEM;
    dv->data = d;
    GROW(dv->has, s->cap, nc);
    if (dv->g && hx__hnsw_reserve(dv->g, nc)) return HX_ENOMEM;
    if (dv->q.kind && hx__quant_reserve(&c->dense[i], &dv->q, nc)) return HX_ENOMEM;
  }
  for (uint32_t i = 0; i < c->nsparse; i++)
    if (hx__svec_reserve(&s->sv[i], s->cap, nc)) return HX_ENOMEM;
  s->cap = nc;
  return 0;
}

uint32_t hx__index_threshold(const hx__coll *c) { return c->index_threshold ? c->index_threshold : 1000; }

int hx__shard_index_some(const hx_vec *db, const hx__coll *c, hx__shard *s, uint32_t max) {
  if (!c->ndense) return 0;
  if (!s->dv[0].g) {
    if (s->nlive < hx__index_threshold(c)) return 0; /* small tenant: exact scans only */
    for (uint32_t i = 0; i < c->ndense; i++) {
      hx__dvec *dv = &s->dv[i];
      const hx__dense_def *d = &c->dense[i];
      dv->g = hx__hnsw_new(d->m ? d->m : 16, d->efc ? d->efc : 100, 0x5eed0000u + i);
      if (!dv->g || hx__hnsw_reserve(dv->g, s->cap)) return HX_ENOMEM;
      /* codes get their range from the data now that there is enough of it */
      if (dv->q.kind && hx__quant_build(d, dv, s->n, s->cap, dv->q.kind)) return HX_ENOMEM;
    }
    s->gdone = 0;
  }
  uint32_t end = s->n - s->gdone > max ? s->gdone + max : s->n;
  hx__space sp[c->ndense];
  for (uint32_t i = 0; i < c->ndense; i++) hx__space_float(&sp[i], db, &c->dense[i], &s->dv[i]);
  for (uint32_t sl = s->gdone; sl < end; sl++) {
    for (uint32_t i = 0; i < c->ndense; i++) {
      if (s->dead[sl] || !s->dv[i].has[sl]) continue;
      int rc = hx__hnsw_insert(s->dv[i].g, &sp[i], sl);
      if (rc) return rc;
    }
    s->gdone = sl + 1;
    /* upserts go first: the indexer gives the shard back as soon as one waits */
    if (max != UINT32_MAX && __atomic_load_n(&s->waiting, __ATOMIC_RELAXED)) break;
  }
  return 0;
}

int hx__shard_needs_index(const hx__coll *c, const hx__shard *s) {
  if (!c->ndense) return 0;
  return s->dv[0].g ? s->gdone < s->n : s->nlive >= hx__index_threshold(c);
}

static void kill_slot(const hx__coll *c, hx__shard *s, uint32_t slot) {
  idmap_del(s, slot);
  for (uint32_t i = 0; i < c->ndense; i++) s->dv[i].nlive_has -= s->dv[i].has[slot];
  for (uint32_t i = 0; i < s->npi; i++) hx__pidx_remove(&c->idx[i], s->pi[i], s, s->payload[slot], slot);
  for (uint32_t i = 0; i < c->nsparse; i++) hx__svec_kill(&s->sv[i], slot);
  json_decref(s->payload[slot]);
  s->payload[slot] = NULL;
  s->dead[slot] = 1;
  s->nlive--;
}

/* ---- record decoding helpers ---- */

void hx__put_id(hx__buf *b, const hx_vec_id *id) {
  hx__buf_u8(b, (uint8_t)(id->is_uuid != 0));
  hx__buf_u64(b, id->is_uuid ? 0 : id->num);
  static const unsigned char zero[16];
  hx__buf_put(b, id->is_uuid ? id->uuid : zero, 16);
}

hx_vec_id hx__get_id(hx__rd *r) {
  hx_vec_id id;
  memset(&id, 0, sizeof id);
  id.is_uuid = hx__rd_u8(r) != 0;
  id.num = hx__rd_u64(r);
  const void *u = hx__rd_take(r, 16);
  if (u) memcpy(id.uuid, u, 16);
  if (id.is_uuid) id.num = 0;
  return id;
}

void hx__put_cstr(hx__buf *b, const char *s) { hx__buf_str(b, s, strlen(s)); }

/* Copies a length-prefixed string into buf (NUL-terminated); NULL if too long/bad. */
static const char *get_cstr(hx__rd *r, char *buf, size_t cap) {
  size_t n;
  const char *s = hx__rd_str(r, &n);
  if (!s || n >= cap || memchr(s, 0, n)) {
    r->bad = 1;
    return NULL;
  }
  memcpy(buf, s, n);
  buf[n] = 0;
  return buf;
}

json_t *hx__get_json(hx__rd *r) {
  size_t n;
  const char *s = hx__rd_str(r, &n);
  if (!s) return NULL;
  if (!n) return json_object();
  json_t *j = json_loadb(s, n, 0, NULL);
  if (!json_is_object(j)) {
    json_decref(j);
    r->bad = 1;
    return NULL;
  }
  return j;
}

static int cmp_u32f(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Sorts (idx,val) pairs by idx and sums duplicates; returns the new count. */
static uint32_t sparse_norm(uint32_t *idx, float *val, uint32_t n) {
  struct pr {
    uint32_t i;
    float v;
  } *p = malloc((n ? n : 1) * sizeof *p);
  if (!p) return 0;
  for (uint32_t k = 0; k < n; k++) p[k] = (struct pr){idx[k], val[k]};
  qsort(p, n, sizeof *p, cmp_u32f);
  uint32_t m = 0;
  for (uint32_t k = 0; k < n; k++) {
    if (m && idx[m - 1] == p[k].i) {
      val[m - 1] += p[k].v;
    } else {
      idx[m] = p[k].i;
      val[m++] = p[k].v;
    }
  }
  free(p);
  return m;
}

static void normalize(float *v, uint32_t dim) {
  double s = 0;
  for (uint32_t i = 0; i < dim; i++) s += (double)v[i] * v[i];
  if (s > 0) {
    float inv = (float)(1.0 / sqrt(s));
    for (uint32_t i = 0; i < dim; i++) v[i] *= inv;
  }
}

/* ---- apply (shared by live writes and recovery) ---- */

static int apply_upsert(hx_vec *db, hx__coll *c, hx__shard *s, hx__rd *r, uint64_t lsn) {
  uint32_t n = hx__rd_u32(r);
  int rc = 0;
  for (uint32_t k = 0; k < n && !r->bad; k++) {
    hx_vec_id id = hx__get_id(r);
    if (r->bad) break;
    if ((rc = hx__shard_reserve(c, s, s->n + 1))) return rc;
    uint32_t slot = s->n;
    for (uint32_t i = 0; i < c->ndense; i++) s->dv[i].has[slot] = 0;
    uint16_t nd = hx__rd_u16(r);
    for (uint16_t j = 0; j < nd && !r->bad; j++) {
      uint16_t vi = hx__rd_u16(r);
      uint32_t dim = hx__rd_u32(r);
      const void *f = hx__rd_take(r, (size_t)dim * 4);
      if (!f || vi >= c->ndense || dim != c->dense[vi].dim) {
        r->bad = 1;
        break;
      }
      float *dst = s->dv[vi].data + (size_t)slot * dim;
      memcpy(dst, f, (size_t)dim * 4);
      if (c->dense[vi].dist == HX_VEC_COSINE) normalize(dst, dim);
      s->dv[vi].has[slot] = 1;
    }
    uint16_t ns = hx__rd_u16(r);
    uint32_t *sidx[ns ? ns : 1];
    float *sval[ns ? ns : 1];
    uint32_t scnt[ns ? ns : 1], svi[ns ? ns : 1];
    uint16_t got = 0;
    for (uint16_t j = 0; j < ns && !r->bad; j++) {
      svi[j] = hx__rd_u16(r);
      uint32_t cnt = hx__rd_u32(r);
      const void *ii = hx__rd_take(r, (size_t)cnt * 4), *vv = hx__rd_take(r, (size_t)cnt * 4);
      if (!ii || !vv || svi[j] >= c->nsparse) {
        r->bad = 1;
        break;
      }
      sidx[j] = malloc((size_t)(cnt ? cnt : 1) * 4);
      sval[j] = malloc((size_t)(cnt ? cnt : 1) * 4);
      got++;
      if (!sidx[j] || !sval[j]) {
        rc = HX_ENOMEM;
        break;
      }
      memcpy(sidx[j], ii, (size_t)cnt * 4);
      memcpy(sval[j], vv, (size_t)cnt * 4);
      scnt[j] = sparse_norm(sidx[j], sval[j], cnt);
    }
    json_t *pl = r->bad || rc ? NULL : hx__get_json(r);
    if (r->bad || rc || !pl) {
      for (uint16_t j = 0; j < got; j++) {
        free(sidx[j]);
        free(sval[j]);
      }
      json_decref(pl);
      return rc ? rc : HX_ECORRUPT;
    }
    uint32_t old = hx__shard_find(s, &id);
    if (old != NOSLOT) kill_slot(c, s, old);
    s->ids[slot] = id;
    s->ver[slot] = lsn;
    s->dead[slot] = 0;
    s->payload[slot] = pl;
    s->n++;
    if ((rc = hx__shard_idmap_put(s, slot))) return rc;
    s->nlive++;
    for (uint32_t i = 0; i < c->ndense; i++) s->dv[i].nlive_has += s->dv[i].has[slot];
    for (uint16_t j = 0; j < ns; j++)
      if ((rc = hx__svec_add(&s->sv[svi[j]], slot, sidx[j], sval[j], scnt[j]))) return rc;
    for (uint32_t i = 0; i < s->npi; i++) hx__pidx_add(&c->idx[i], s->pi[i], pl, slot);
    for (uint32_t i = 0; i < c->ndense; i++) {
      hx__dvec *dv = &s->dv[i];
      if (!dv->has[slot]) continue;
      if (dv->q.kind) hx__quant_encode(&c->dense[i], &dv->q, slot, dv->data + (size_t)slot * c->dense[i].dim);
    }
  }
  /* graph insertion is left to the indexer (hx__shard_index_some); until then
   * searches scan slots >= gdone exactly */
  (void)db;
  return r->bad ? HX_ECORRUPT : rc;
}

static int apply_delete(hx__coll *c, hx__shard *s, hx__rd *r) {
  uint32_t n = hx__rd_u32(r);
  for (uint32_t k = 0; k < n && !r->bad; k++) {
    hx_vec_id id = hx__get_id(r);
    if (r->bad) break;
    uint32_t sl = hx__shard_find(s, &id);
    if (sl != NOSLOT) kill_slot(c, s, sl);
  }
  return r->bad ? HX_ECORRUPT : 0;
}

static int apply_payload(hx__coll *c, hx__shard *s, hx__rd *r, uint64_t lsn) {
  uint32_t n = hx__rd_u32(r);
  for (uint32_t k = 0; k < n && !r->bad; k++) {
    hx_vec_id id = hx__get_id(r);
    json_t *pl = hx__get_json(r);
    if (!pl) break;
    uint32_t sl = hx__shard_find(s, &id);
    if (sl == NOSLOT) {
      json_decref(pl);
      continue;
    }
    for (uint32_t i = 0; i < s->npi; i++) hx__pidx_remove(&c->idx[i], s->pi[i], s, s->payload[sl], sl);
    json_decref(s->payload[sl]);
    s->payload[sl] = pl;
    s->ver[sl] = lsn;
    for (uint32_t i = 0; i < s->npi; i++) hx__pidx_add(&c->idx[i], s->pi[i], pl, sl);
  }
  return r->bad ? HX_ECORRUPT : 0;
}

/* Rebuilds a shard from its live slots when tombstones outnumber live points,
 * so deleted and replaced vectors stop costing memory and graph hops. Both
 * deletes and upserts leave tombstones (an upsert of an existing id takes a
 * new slot), so both end with this check: a tenant whose points are
 * re-upserted forever holds at most about twice its live points. */
static int maybe_compact(hx_vec *db, hx__coll *c, hx__shard *s) {
  uint32_t dead = s->n - s->nlive;
  if (dead < 256 || dead < s->nlive) return 0;
  hx__shard *ns = hx__shard_new(c, s->tenant);
  if (!ns || hx__shard_reserve(c, ns, s->nlive ? s->nlive : 1)) goto oom;
  for (uint32_t sl = 0; sl < s->n; sl++) {
    if (s->dead[sl]) continue;
    uint32_t d = ns->n++;
    ns->ids[d] = s->ids[sl];
    ns->ver[d] = s->ver[sl];
    ns->payload[d] = s->payload[sl];
    s->payload[sl] = NULL;
    ns->nlive++;
    if (hx__shard_idmap_put(ns, d)) goto oom;
    for (uint32_t i = 0; i < c->ndense; i++) {
      uint32_t dim = c->dense[i].dim;
      ns->dv[i].has[d] = s->dv[i].has[sl];
      ns->dv[i].nlive_has += s->dv[i].has[sl];
      memcpy(ns->dv[i].data + (size_t)d * dim, s->dv[i].data + (size_t)sl * dim, (size_t)dim * 4);
    }
    for (uint32_t i = 0; i < c->nsparse; i++) {
      hx__svec *v = &s->sv[i];
      if (!v->idx[sl]) continue;
      if (hx__svec_add(&ns->sv[i], d, v->idx[sl], v->val[sl], v->cnt[sl])) goto oom;
      v->idx[sl] = NULL;
      v->val[sl] = NULL;
    }
    for (uint32_t i = 0; i < ns->npi; i++) hx__pidx_add(&c->idx[i], ns->pi[i], ns->payload[d], d);
  }
  for (uint32_t i = 0; i < c->ndense; i++)
    if (s->dv[i].q.kind && hx__quant_build(&c->dense[i], &ns->dv[i], ns->n, ns->cap, s->dv[i].q.kind))
      goto oom;
  if (hx__shard_index_some(db, c, ns, UINT32_MAX)) goto oom;
  /* swap the bodies but never write s->lock or s->waiting (other threads use
   * them without holding the lock: copying the struct over them loses their
   * state), and keep the tenant key of s; ns leaves with its own, never-locked
   * lock and the old body */
  {
    size_t cut[2][2] = {{offsetof(hx__shard, lock), sizeof s->lock}, {offsetof(hx__shard, waiting), sizeof s->waiting}};
    if (cut[0][0] > cut[1][0]) {
      size_t t0 = cut[0][0], t1 = cut[0][1];
      cut[0][0] = cut[1][0]; cut[0][1] = cut[1][1]; cut[1][0] = t0; cut[1][1] = t1;
    }
    size_t from = 0;
    for (int k = 0; k <= 2; k++) {
      size_t to = k < 2 ? cut[k][0] : sizeof *s;
      unsigned char tmp[sizeof *s];
      memcpy(tmp, (unsigned char *)s + from, to - from);
      memcpy((unsigned char *)s + from, (unsigned char *)ns + from, to - from);
      memcpy((unsigned char *)ns + from, tmp, to - from);
      if (k < 2) from = cut[k][0] + cut[k][1];
    }
    char *t = s->tenant;
    s->tenant = ns->tenant;
    ns->tenant = t;
  }
  hx__shard_free(c, ns);
  return 0;
oom:
  hx__shard_free(c, ns);
  return HX_ENOMEM;
}

static int apply_shard(hx_vec *db, hx__coll *c, hx__shard *s, uint64_t lsn, uint8_t type, hx__rd *r) {
  int rc;
  switch (type) {
  case HX__R_UPSERT:
    rc = apply_upsert(db, c, s, r, lsn);
    if (!rc) rc = maybe_compact(db, c, s);
    break;
  case HX__R_DELETE:
    rc = apply_delete(c, s, r);
    if (!rc) rc = maybe_compact(db, c, s);
    break;
  case HX__R_PAYLOAD:
    rc = apply_payload(c, s, r, lsn);
    break;
  default:
    rc = HX_ECORRUPT;
  }
  return rc;
}

static hx__shard *get_shard(hx__coll *c, const char *tenant, int create) {
  pthread_mutex_lock(&c->smu);
  hx__shard *s = hx__smap_get(&c->shards, tenant, strlen(tenant));
  if (!s && create) {
    s = hx__shard_new(c, tenant);
    if (s && hx__smap_put(&c->shards, tenant, strlen(tenant), s)) {
      hx__shard_free(c, s);
      s = NULL;
    }
  }
  pthread_mutex_unlock(&c->smu);
  return s;
}

static int apply_index(hx__coll *c, const char *key, hx_vec_index_type t) {
  for (uint32_t i = 0; i < c->nidx; i++)
    if (!strcmp(c->idx[i].key, key)) return 0;
  if (add_index_def(c, key, t)) return HX_ENOMEM;
  hx__index_def *d = &c->idx[c->nidx - 1];
  HX__SMAP_EACH(&c->shards, e) {
    hx__shard *s = e->val;
    hx__pidx **np = realloc(s->pi, (s->npi + 1) * sizeof *np);
    if (!np) return HX_ENOMEM;
    s->pi = np;
    if (!(s->pi[s->npi] = hx__pidx_new())) return HX_ENOMEM;
    for (uint32_t sl = 0; sl < s->n; sl++)
      if (!s->dead[sl]) hx__pidx_add(d, s->pi[s->npi], s->payload[sl], sl);
    s->npi++;
  }
  return 0;
}

static int apply_index_drop(hx__coll *c, const char *key) {
  for (uint32_t i = 0; i < c->nidx; i++) {
    if (strcmp(c->idx[i].key, key)) continue;
    free(c->idx[i].key);
    hx__path_free(c->idx[i].path, c->idx[i].npath);
    memmove(&c->idx[i], &c->idx[i + 1], (c->nidx - i - 1) * sizeof *c->idx);
    c->nidx--;
    HX__SMAP_EACH(&c->shards, e) {
      hx__shard *s = e->val;
      hx__pidx_free(s->pi[i]);
      memmove(&s->pi[i], &s->pi[i + 1], (s->npi - i - 1) * sizeof *s->pi);
      s->npi--;
    }
    return 0;
  }
  return 0;
}

static int apply_quant(hx__coll *c, uint32_t vi, hx_vec_quant q) {
  if (vi >= c->ndense || q > HX_VEC_QUANT_BINARY) return HX_ECORRUPT;
  c->dense[vi].quant = q;
  HX__SMAP_EACH(&c->shards, e) {
    hx__shard *s = e->val;
    int rc = hx__quant_build(&c->dense[vi], &s->dv[vi], s->n, s->cap, q);
    if (rc) return rc;
  }
  return 0;
}

int hx__apply(hx_vec *db, uint64_t lsn, uint8_t type, const uint8_t *p, size_t n) {
  hx__rd r = {p, n, 0, 0};
  char name[1024], tenant[1024], key[1024];
  if (!get_cstr(&r, name, sizeof name)) return HX_ECORRUPT;
  hx__coll *c = hx__smap_get(&db->colls, name, strlen(name));
  if (type == HX__R_COLL_CREATE) {
    size_t cl;
    const char *cs = hx__rd_str(&r, &cl);
    if (!cs) return HX_ECORRUPT;
    if (c) return 0; /* already there (replayed twice) */
    json_t *cfg = json_loadb(cs, cl, 0, NULL);
    hx__coll *nc = cfg ? hx__coll_new(name, cfg, NULL) : NULL;
    json_decref(cfg);
    if (!nc) return HX_ECORRUPT;
    if (hx__smap_put(&db->colls, name, strlen(name), nc)) {
      hx__coll_free(nc);
      return HX_ENOMEM;
    }
    return 0;
  }
  if (!c) return 0; /* collection dropped later in the log or never created */
  switch (type) {
  case HX__R_COLL_DROP:
    hx__smap_del(&db->colls, name, strlen(name));
    hx__coll_free(c);
    return 0;
  case HX__R_INDEX: {
    if (!get_cstr(&r, key, sizeof key)) return HX_ECORRUPT;
    uint8_t t = hx__rd_u8(&r);
    if (r.bad || t < 1 || t > 5) return HX_ECORRUPT;
    return apply_index(c, key, (hx_vec_index_type)t);
  }
  case HX__R_INDEX_DROP:
    if (!get_cstr(&r, key, sizeof key)) return HX_ECORRUPT;
    return apply_index_drop(c, key);
  case HX__R_QUANT: {
    uint16_t vi = hx__rd_u16(&r);
    uint8_t q = hx__rd_u8(&r);
    if (r.bad) return HX_ECORRUPT;
    return apply_quant(c, vi, (hx_vec_quant)q);
  }
  default:
    break;
  }
  if (!get_cstr(&r, tenant, sizeof tenant)) return HX_ECORRUPT;
  hx__shard *s = get_shard(c, tenant, 1);
  if (!s) return HX_ENOMEM;
  return apply_shard(db, c, s, lsn, type, &r);
}

/* ---- open / close / checkpoint ---- */

static int replay_cb(void *ctx, uint64_t lsn, uint8_t type, const uint8_t *p, size_t n) {
  return hx__apply(ctx, lsn, type, p, n);
}

/* ---- background indexer ---- */

enum { IX_CHUNK = 64 }; /* max graph inserts per exclusive hold of a shard */

/* One pass over all shards; returns 1 if work remains. sync: do it all now.
 * Shards are freed only with their collection (under db->lock exclusively),
 * so the list taken under smu stays valid while db->lock is held shared. */
static int index_pass(hx_vec *db, int sync, int *rc) {
  int more = 0;
  pthread_rwlock_rdlock(&db->lock);
  HX__SMAP_EACH(&db->colls, ce) {
    hx__coll *c = ce->val;
    pthread_mutex_lock(&c->smu);
    size_t ns = 0;
    hx__shard **list = malloc((c->shards.n + 1) * sizeof *list);
    if (list) HX__SMAP_EACH(&c->shards, se) list[ns++] = se->val;
    pthread_mutex_unlock(&c->smu);
    for (size_t k = 0; k < ns; k++) {
      hx__shard *s = list[k];
      pthread_rwlock_wrlock(&s->lock);
      if (!hx__shard_needs_index(c, s)) {
        pthread_rwlock_unlock(&s->lock);
        continue;
      }
      int r = hx__shard_index_some(db, c, s, sync ? UINT32_MAX : IX_CHUNK);
      if (r && rc) *rc = r;
      more |= !r && hx__shard_needs_index(c, s);
      pthread_rwlock_unlock(&s->lock);
      for (int spin = 0; !sync && spin < 100 && __atomic_load_n(&s->waiting, __ATOMIC_RELAXED); spin++)
        usleep(100); /* let the waiting writers through */
    }
    if (!list && rc) *rc = HX_ENOMEM;
    free(list);
  }
  pthread_rwlock_unlock(&db->lock);
  return more;
}

static void *indexer(void *arg) {
  hx_vec *db = arg;
  /* background work: below the request threads in the scheduler's eyes */
  if (setpriority(PRIO_PROCESS, (id_t)gettid(), 10)) {
  }
  for (;;) {
    pthread_mutex_lock(&db->ixmu);
    while (!db->ixstop && !db->ixwork) pthread_cond_wait(&db->ixcv, &db->ixmu);
    int stop = db->ixstop;
    db->ixwork = 0;
    pthread_mutex_unlock(&db->ixmu);
    if (stop) return NULL;
    int rc = 0;
    if (index_pass(db, 0, &rc) && !rc) {
      pthread_mutex_lock(&db->ixmu);
      db->ixwork = 1;
      pthread_mutex_unlock(&db->ixmu);
    }
  }
}

static void index_kick(hx_vec *db) {
  pthread_mutex_lock(&db->ixmu);
  db->ixwork = 1;
  pthread_cond_signal(&db->ixcv);
  pthread_mutex_unlock(&db->ixmu);
}

int hx_vec_wait_indexed(hx_vec *db, hx_err *err) {
  int rc = 0;
  index_pass(db, 1, &rc);
  return rc ? hx_err_set(err, rc, "vec: indexing failed") : 0;
}

int hx_vec_open(const char *dir, const hx_vec_opts *opts, hx_vec **out, hx_err *err) {
  int rc;
  *out = NULL;
  if (mkdir(dir, 0755) && errno != EEXIST)
    return hx_err_set(err, HX_EIO, "vec: mkdir %s: %s", dir, strerror(errno));
  hx_vec *db = calloc(1, sizeof *db);
  if (!db || !(db->dir = strdup(dir))) {
    free(db);
    return hx_err_set(err, HX_ENOMEM, "out of memory");
  }
  if (opts) db->opts = *opts;
  if (!db->opts.wal_max_bytes) db->opts.wal_max_bytes = 256ull << 20;
  if (!db->opts.filter_exact_max) db->opts.filter_exact_max = 20000;
  hx__rwlock_init(&db->lock);
  pthread_mutex_init(&db->ckmu, NULL);
  pthread_mutex_init(&db->ixmu, NULL);
  pthread_cond_init(&db->ixcv, NULL);
  db->k = hx__vec_kernels_get();
  if ((rc = hx__snapshot_load(db, err))) goto fail;
  if ((rc = hx__wal_open(dir, db->opts.no_fsync, db->snap_lsn, replay_cb, db, &db->wal, err))) goto fail;
  db->ixwork = 1; /* recovered points not yet in a graph */
  if (pthread_create(&db->ixth, NULL, indexer, db)) {
    rc = hx_err_set(err, HX_ENOMEM, "vec: cannot start the indexer thread");
    goto fail;
  }
  db->ixrunning = 1;
  *out = db;
  return 0;
fail:
  db->wal = NULL;
  hx_vec_close(db);
  return rc;
}

int hx_vec_checkpoint(hx_vec *db, hx_err *err) {
  pthread_mutex_lock(&db->ckmu);
  pthread_rwlock_wrlock(&db->lock);
  uint64_t lsn = hx__wal_last_lsn(db->wal);
  int rc = 0;
  if (lsn != db->snap_lsn) {
    rc = hx__snapshot_write(db, lsn, err);
    if (!rc) rc = hx__wal_reset(db->wal, err);
    if (!rc) db->snap_lsn = lsn;
  }
  pthread_rwlock_unlock(&db->lock);
  pthread_mutex_unlock(&db->ckmu);
  return rc;
}

void hx_vec_close(hx_vec *db) {
  if (!db) return;
  if (db->ixrunning) {
    pthread_mutex_lock(&db->ixmu);
    db->ixstop = 1;
    pthread_cond_signal(&db->ixcv);
    pthread_mutex_unlock(&db->ixmu);
    pthread_join(db->ixth, NULL);
  }
  if (db->wal) {
    hx_vec_checkpoint(db, NULL);
    hx__wal_close(db->wal);
  }
  HX__SMAP_EACH(&db->colls, e) hx__coll_free(e->val);
  hx__smap_release(&db->colls);
  pthread_rwlock_destroy(&db->lock);
  pthread_mutex_destroy(&db->ckmu);
  pthread_mutex_destroy(&db->ixmu);
  pthread_cond_destroy(&db->ixcv);
  free(db->dir);
  free(db);
}

/* Snapshot once the log outgrows both the configured size and the last
 * snapshot, so rewriting a large database costs at most ~2x its log. */
static void maybe_checkpoint(hx_vec *db) {
  uint64_t limit = db->opts.wal_max_bytes;
  uint64_t snap = __atomic_load_n(&db->snap_bytes, __ATOMIC_RELAXED);
  if (snap > limit) limit = snap;
  if (hx__wal_bytes(db->wal) > limit && !pthread_mutex_trylock(&db->ckmu)) {
    pthread_mutex_unlock(&db->ckmu);
    hx_vec_checkpoint(db, NULL);
  }
}

/* ---- collection-level writes ---- */

/* Logs b as a record of type and applies it; caller holds db->lock exclusively. */
static int commit_db(hx_vec *db, uint8_t type, hx__buf *b, uint64_t *lsn, hx_err *err) {
  if (b->oom) return hx_err_set(err, HX_ENOMEM, "out of memory");
  int rc = hx__wal_append(db->wal, type, b->p, b->n, lsn);
  if (rc) return hx_err_set(err, rc, "vec: log append failed");
  rc = hx__apply(db, *lsn, type, b->p, b->n);
  if (rc) return hx_err_set(err, rc, "vec: apply failed");
  return 0;
}

static int valid_name(const char *s) { return s && *s && strlen(s) < 256; }

int hx_vec_collection_create(hx_vec *db, const char *name, const hx_vec_collection_cfg *cfg,
                             hx_err *err) {
  if (!valid_name(name)) return hx_err_set(err, HX_EINVAL, "collection name must be 1-255 bytes");
  if (!cfg || (!cfg->ndense && !cfg->nsparse))
    return hx_err_set(err, HX_EINVAL, "collection needs at least one dense or sparse vector");
  json_t *d = json_array(), *sp = json_array();
  for (size_t i = 0; i < cfg->ndense; i++) {
    const hx_vec_dense_cfg *v = &cfg->dense[i];
    const char *nm = v->name ? v->name : "";
    if (v->dim < 1 || v->dim > 65536 || v->distance < HX_VEC_COSINE || v->distance > HX_VEC_EUCLID ||
        v->quant > HX_VEC_QUANT_BINARY || v->m > 256 || strlen(nm) > 255) {
      json_decref(d);
      json_decref(sp);
      return hx_err_set(err, HX_EINVAL, "vectors[%zu]: bad dim, distance, m or quantization", i);
    }
    for (size_t j = 0; j < i; j++)
      if (!strcmp(nm, cfg->dense[j].name ? cfg->dense[j].name : "")) {
        json_decref(d);
        json_decref(sp);
        return hx_err_set(err, HX_EINVAL, "vectors[%zu]: duplicate name '%s'", i, nm);
      }
    json_array_append_new(d, json_pack("{s:s,s:i,s:s,s:i,s:i,s:s}", "name", nm, "dim",
                                       (json_int_t)v->dim, "distance", dist_name(v->distance), "m",
                                       (json_int_t)(v->m ? v->m : 16), "ef_construct",
                                       (json_int_t)(v->ef_construct ? v->ef_construct : 100),
                                       "quantization", quant_name(v->quant)));
  }
  for (size_t i = 0; i < cfg->nsparse; i++) {
    if (!cfg->sparse[i].name || strlen(cfg->sparse[i].name) > 255) {
      json_decref(d);
      json_decref(sp);
      return hx_err_set(err, HX_EINVAL, "sparse_vectors[%zu]: bad name", i);
    }
    json_array_append_new(sp, json_pack("{s:s,s:b}", "name", cfg->sparse[i].name, "idf", cfg->sparse[i].idf));
  }
  json_t *cj = json_pack("{s:o,s:o,s:[],s:i}", "dense", d, "sparse", sp, "indexes", "index_threshold",
                         (json_int_t)(cfg->index_threshold ? cfg->index_threshold : 1000));
  char *txt = json_dumps(cj, JSON_COMPACT);
  json_decref(cj);
  if (!txt) return hx_err_set(err, HX_ENOMEM, "out of memory");
  hx__buf b = {0};
  hx__put_cstr(&b, name);
  hx__put_cstr(&b, txt);
  free(txt);
  uint64_t lsn = 0;
  int rc;
  pthread_rwlock_wrlock(&db->lock);
  if (hx__smap_get(&db->colls, name, strlen(name)))
    rc = hx_err_set(err, HX_EEXIST, "collection '%s' already exists", name);
  else
    rc = commit_db(db, HX__R_COLL_CREATE, &b, &lsn, err);
  pthread_rwlock_unlock(&db->lock);
  hx__buf_release(&b);
  return rc ? rc : hx__wal_sync(db->wal, lsn, err);
}

int hx_vec_collection_drop(hx_vec *db, const char *name, hx_err *err) {
  hx__buf b = {0};
  uint64_t lsn = 0;
  int rc;
  hx__put_cstr(&b, name ? name : "");
  pthread_rwlock_wrlock(&db->lock);
  if (!name || !hx__smap_get(&db->colls, name, strlen(name)))
    rc = hx_err_set(err, HX_ENOENT, "collection '%s' not found", name ? name : "");
  else
    rc = commit_db(db, HX__R_COLL_DROP, &b, &lsn, err);
  pthread_rwlock_unlock(&db->lock);
  hx__buf_release(&b);
  return rc ? rc : hx__wal_sync(db->wal, lsn, err);
}

static hx__coll *find_coll(hx_vec *db, const char *name, hx_err *err) {
  hx__coll *c = name ? hx__smap_get(&db->colls, name, strlen(name)) : NULL;
  if (!c) hx_err_set(err, HX_ENOENT, "collection '%s' not found", name ? name : "");
  return c;
}

static int find_dense(const hx__coll *c, const char *name) {
  if (!name) name = "";
  for (uint32_t i = 0; i < c->ndense; i++)
    if (!strcmp(c->dense[i].name, name)) return (int)i;
  return -1;
}

static int find_sparse(const hx__coll *c, const char *name) {
  for (uint32_t i = 0; name && i < c->nsparse; i++)
    if (!strcmp(c->sparse[i].name, name)) return (int)i;
  return -1;
}

int hx_vec_index_create(hx_vec *db, const char *coll, const char *key, hx_vec_index_type type,
                        hx_err *err) {
  if (!key || !*key || strlen(key) > 255) return hx_err_set(err, HX_EINVAL, "index key must be 1-255 bytes");
  if (type < HX_VEC_INDEX_KEYWORD || type > HX_VEC_INDEX_UUID)
    return hx_err_set(err, HX_EINVAL, "unknown index type");
  hx__buf b = {0};
  uint64_t lsn = 0;
  int rc;
  hx__put_cstr(&b, coll ? coll : "");
  hx__put_cstr(&b, key);
  hx__buf_u8(&b, (uint8_t)type);
  pthread_rwlock_wrlock(&db->lock);
  rc = find_coll(db, coll, err) ? commit_db(db, HX__R_INDEX, &b, &lsn, err) : HX_ENOENT;
  pthread_rwlock_unlock(&db->lock);
  hx__buf_release(&b);
  return rc ? rc : hx__wal_sync(db->wal, lsn, err);
}

int hx_vec_index_drop(hx_vec *db, const char *coll, const char *key, hx_err *err) {
  hx__buf b = {0};
  uint64_t lsn = 0;
  int rc = 0;
  pthread_rwlock_wrlock(&db->lock);
  hx__coll *c = find_coll(db, coll, err);
  if (!c) {
    rc = HX_ENOENT;
  } else {
    rc = hx_err_set(err, HX_ENOENT, "no payload index on '%s'", key ? key : "");
    for (uint32_t i = 0; key && i < c->nidx; i++)
      if (!strcmp(c->idx[i].key, key)) rc = 0;
  }
  if (!rc) {
    hx__put_cstr(&b, coll);
    hx__put_cstr(&b, key);
    rc = commit_db(db, HX__R_INDEX_DROP, &b, &lsn, err);
  }
  pthread_rwlock_unlock(&db->lock);
  hx__buf_release(&b);
  return rc ? rc : hx__wal_sync(db->wal, lsn, err);
}

int hx_vec_set_quant(hx_vec *db, const char *coll, const char *vector, hx_vec_quant q, hx_err *err) {
  if (q > HX_VEC_QUANT_BINARY) return hx_err_set(err, HX_EINVAL, "unknown quantization");
  hx__buf b = {0};
  uint64_t lsn = 0;
  int rc = 0;
  pthread_rwlock_wrlock(&db->lock);
  hx__coll *c = find_coll(db, coll, err);
  int vi = c ? find_dense(c, vector) : -1;
  if (!c) rc = HX_ENOENT;
  else if (vi < 0) rc = hx_err_set(err, HX_EINVAL, "collection has no dense vector '%s'", vector ? vector : "");
  if (!rc) {
    hx__put_cstr(&b, coll);
    hx__buf_u16(&b, (uint16_t)vi);
    hx__buf_u8(&b, (uint8_t)q);
    rc = commit_db(db, HX__R_QUANT, &b, &lsn, err);
  }
  pthread_rwlock_unlock(&db->lock);
  hx__buf_release(&b);
  return rc ? rc : hx__wal_sync(db->wal, lsn, err);
}

int hx_vec_collection_list(hx_vec *db, json_t **out, hx_err *err) {
  json_t *a = json_array();
  if (!a) return hx_err_set(err, HX_ENOMEM, "out of memory");
  pthread_rwlock_rdlock(&db->lock);
  HX__SMAP_EACH(&db->colls, e) json_array_append_new(a, json_string(e->key));
  pthread_rwlock_unlock(&db->lock);
  *out = a;
  return 0;
}

int hx_vec_collection_info(hx_vec *db, const char *name, json_t **out, hx_err *err) {
  pthread_rwlock_rdlock(&db->lock);
  hx__coll *c = find_coll(db, name, err);
  if (!c) {
    pthread_rwlock_unlock(&db->lock);
    return HX_ENOENT;
  }
  json_t *cfg = hx__coll_cfg_json(c), *tn = json_object();
  size_t total = 0, pending = 0;
  pthread_mutex_lock(&c->smu);
  HX__SMAP_EACH(&c->shards, e) {
    hx__shard *s = e->val;
    pthread_rwlock_rdlock(&s->lock);
    /* slots the indexer has not put in the graphs yet (searched exactly meanwhile) */
    size_t pend = hx__shard_needs_index(c, s) ? s->n - s->gdone : 0;
    json_object_set_new(tn, e->key, json_pack("{s:i,s:i,s:b,s:i}", "points", (json_int_t)s->nlive, "slots",
                                              (json_int_t)s->n, "indexed", c->ndense && s->dv[0].g,
                                              "pending_index", (json_int_t)pend));
    total += s->nlive;
    pending += pend;
    pthread_rwlock_unlock(&s->lock);
  }
  pthread_mutex_unlock(&c->smu);
  pthread_rwlock_unlock(&db->lock);
  *out = json_pack("{s:s,s:o,s:o,s:i,s:i}", "name", name, "config", cfg, "tenants", tn, "points_count",
                   (json_int_t)total, "pending_index", (json_int_t)pending);
  return *out ? 0 : hx_err_set(err, HX_ENOMEM, "out of memory");
}

/* ---- point writes ---- */

static int valid_tenant(const char *t, hx_err *err) {
  if (!t || !*t || strlen(t) > 255) return hx_err_set(err, HX_EINVAL, "tenant must be 1-255 bytes");
  return 0;
}

/* Takes db->lock shared and the tenant's shard: exclusively (creating it) for
 * a write, shared for a read. A read of a tenant without data gets *s = NULL
 * (then only db->lock is held). */
/* With db->lock held shared: gets the tenant's shard (creating it for a write)
 * and locks it, exclusively for a write. */
static int lock_shard(hx__coll *c, const char *tenant, int write, hx__shard **s, hx_err *err) {
  *s = get_shard(c, tenant, write);
  if (!*s) return write ? hx_err_set(err, HX_ENOMEM, "out of memory") : 0;
  if (write) {
    __atomic_add_fetch(&(*s)->waiting, 1, __ATOMIC_RELAXED);
    pthread_rwlock_wrlock(&(*s)->lock);
    __atomic_sub_fetch(&(*s)->waiting, 1, __ATOMIC_RELAXED);
  } else {
    pthread_rwlock_rdlock(&(*s)->lock);
  }
  return 0;
}

static int shard_begin(hx_vec *db, const char *coll, const char *tenant, int write, hx__coll **c,
                       hx__shard **s, hx_err *err) {
  int rc = valid_tenant(tenant, err);
  if (rc) return rc;
  pthread_rwlock_rdlock(&db->lock);
  *c = find_coll(db, coll, err);
  if (!*c) {
    pthread_rwlock_unlock(&db->lock);
    return HX_ENOENT;
  }
  if ((rc = lock_shard(*c, tenant, write, s, err))) pthread_rwlock_unlock(&db->lock);
  return rc;
}

static int write_begin(hx_vec *db, const char *coll, const char *tenant, hx__coll **c, hx__shard **s,
                       hx_err *err) {
  return shard_begin(db, coll, tenant, 1, c, s, err);
}

/* Appends b (whose header names coll and tenant) and applies it to s, then
 * releases the locks of write_begin and waits for durability. */
static int write_commit(hx_vec *db, hx__coll *c, hx__shard *s, uint8_t type, hx__buf *b, hx_err *err) {
  uint64_t lsn = 0;
  int rc = 0;
  if (b->oom) {
    rc = hx_err_set(err, HX_ENOMEM, "out of memory");
  } else if ((rc = hx__wal_append(db->wal, type, b->p, b->n, &lsn))) {
    hx_err_set(err, rc, "vec: log append failed");
  } else {
    hx__rd r = {b->p, b->n, 0, 0};
    size_t l;
    hx__rd_str(&r, &l);
    hx__rd_str(&r, &l);
    if ((rc = apply_shard(db, c, s, lsn, type, &r))) hx_err_set(err, rc, "vec: apply failed");
  }
  pthread_rwlock_unlock(&s->lock);
  pthread_rwlock_unlock(&db->lock);
  if (!rc && type == HX__R_UPSERT) index_kick(db);
  if (!rc && lsn) rc = hx__wal_sync(db->wal, lsn, err);
  if (!rc) maybe_checkpoint(db);
  return rc;
}

static void write_abort(hx_vec *db, hx__shard *s) {
  pthread_rwlock_unlock(&s->lock);
  pthread_rwlock_unlock(&db->lock);
}

static int encode_points(const hx__coll *c, const hx_vec_point *pts, size_t n, hx__buf *b, hx_err *err) {
  size_t per = 64;
  for (uint32_t i = 0; i < c->ndense; i++) per += 8 + (size_t)c->dense[i].dim * 4;
  hx__buf_reserve(b, n * per + 64);
  hx__buf_u32(b, (uint32_t)n);
  for (size_t k = 0; k < n; k++) {
    const hx_vec_point *p = &pts[k];
    hx__put_id(b, &p->id);
    if (p->ndense > c->ndense) return hx_err_set(err, HX_EINVAL, "points[%zu]: too many vectors", k);
    hx__buf_u16(b, (uint16_t)p->ndense);
    for (size_t j = 0; j < p->ndense; j++) {
      const hx_vec_dense *d = &p->dense[j];
      int vi = find_dense(c, d->name);
      if (vi < 0)
        return hx_err_set(err, HX_EINVAL, "points[%zu]: collection has no vector named '%s'", k,
                          d->name ? d->name : "");
      for (size_t i = 0; i < j; i++)
        if (find_dense(c, p->dense[i].name) == vi)
          return hx_err_set(err, HX_EINVAL, "points[%zu]: vector '%s' given twice", k, c->dense[vi].name);
      if (d->dim != c->dense[vi].dim || !d->v)
        return hx_err_set(err, HX_EINVAL, "points[%zu]: vector '%s' has dimension %u, expected %u", k,
                          c->dense[vi].name, d->dim, c->dense[vi].dim);
      for (uint32_t i = 0; i < d->dim; i++)
        if (!isfinite(d->v[i]))
          return hx_err_set(err, HX_EINVAL, "points[%zu]: vector '%s' has a non-finite value", k,
                            c->dense[vi].name);
      hx__buf_u16(b, (uint16_t)vi);
      hx__buf_u32(b, d->dim);
      hx__buf_put(b, d->v, (size_t)d->dim * 4);
    }
    if (p->nsparse > c->nsparse) return hx_err_set(err, HX_EINVAL, "points[%zu]: too many sparse vectors", k);
    hx__buf_u16(b, (uint16_t)p->nsparse);
    for (size_t j = 0; j < p->nsparse; j++) {
      const hx_vec_sparse *sv = &p->sparse[j];
      int si = find_sparse(c, sv->name);
      if (si < 0)
        return hx_err_set(err, HX_EINVAL, "points[%zu]: collection has no sparse vector named '%s'", k,
                          sv->name ? sv->name : "");
      if (sv->n && (!sv->idx || !sv->val))
        return hx_err_set(err, HX_EINVAL, "points[%zu]: sparse vector '%s' without data", k, sv->name);
      for (uint32_t i = 0; i < sv->n; i++)
        if (!isfinite(sv->val[i]))
          return hx_err_set(err, HX_EINVAL, "points[%zu]: sparse vector '%s' has a non-finite value", k,
                            sv->name);
      hx__buf_u16(b, (uint16_t)si);
      hx__buf_u32(b, sv->n);
      hx__buf_put(b, sv->idx, (size_t)sv->n * 4);
      hx__buf_put(b, sv->val, (size_t)sv->n * 4);
    }
    if (p->payload && !json_is_object(p->payload))
      return hx_err_set(err, HX_EINVAL, "points[%zu]: payload must be an object", k);
    char *txt = p->payload ? json_dumps(p->payload, JSON_COMPACT) : NULL;
    if (p->payload && !txt) return hx_err_set(err, HX_EINVAL, "points[%zu]: payload cannot be encoded", k);
    hx__put_cstr(b, txt ? txt : "");
    free(txt);
  }
  return b->oom ? hx_err_set(err, HX_ENOMEM, "out of memory") : 0;
}

int hx_vec_upsert(hx_vec *db, const char *coll, const char *tenant, const hx_vec_point *pts, size_t n,
                  hx_err *err) {
  hx__coll *c;
  hx__shard *s;
  hx__buf b = {0};
  if (n && !pts) return hx_err_set(err, HX_EINVAL, "no points");
  int rc = valid_tenant(tenant, err);
  if (rc) return rc;
  pthread_rwlock_rdlock(&db->lock);
  if (!(c = find_coll(db, coll, err))) {
    pthread_rwlock_unlock(&db->lock);
    return HX_ENOENT;
  }
  /* encoded before the shard is locked: concurrent writers encode in parallel */
  hx__put_cstr(&b, coll);
  hx__put_cstr(&b, tenant);
  if ((rc = encode_points(c, pts, n, &b, err)) || (rc = lock_shard(c, tenant, 1, &s, err))) {
    pthread_rwlock_unlock(&db->lock);
    hx__buf_release(&b);
    return rc;
  }
  rc = write_commit(db, c, s, HX__R_UPSERT, &b, err);
  hx__buf_release(&b);
  return rc;
}

/* Deletes ids (if ids) or the filter's matches; counts those that existed. */
static int delete_common(hx_vec *db, const char *coll, const char *tenant, const hx_vec_id *ids, size_t n,
                         const hx_vec_filter *f, int by_filter, size_t *deleted, hx_err *err) {
  hx__coll *c;
  hx__shard *s;
  hx__buf b = {0};
  size_t cnt = 0;
  int rc = write_begin(db, coll, tenant, &c, &s, err);
  if (rc) return rc;
  hx__put_cstr(&b, coll);
  hx__put_cstr(&b, tenant);
  size_t at = b.n;
  hx__buf_u32(&b, 0);
  if (by_filter) {
    for (uint32_t sl = 0; sl < s->n; sl++)
      if (!s->dead[sl] && hx_vec_filter_match(f, &s->ids[sl], s->payload[sl])) {
        hx__put_id(&b, &s->ids[sl]);
        cnt++;
      }
  } else {
    for (size_t k = 0; k < n; k++) {
      if (hx__shard_find(s, &ids[k]) != NOSLOT) cnt++;
      hx__put_id(&b, &ids[k]);
    }
  }
  uint32_t nrec = (uint32_t)(by_filter ? cnt : n);
  if (!b.oom) memcpy(b.p + at, &nrec, 4);
  if (deleted) *deleted = cnt;
  if (!nrec) {
    write_abort(db, s);
    hx__buf_release(&b);
    return 0;
  }
  rc = write_commit(db, c, s, HX__R_DELETE, &b, err);
  hx__buf_release(&b);
  return rc;
}

int hx_vec_delete(hx_vec *db, const char *coll, const char *tenant, const hx_vec_id *ids, size_t n,
                  size_t *deleted, hx_err *err) {
  return delete_common(db, coll, tenant, ids, n, NULL, 0, deleted, err);
}

int hx_vec_delete_by_filter(hx_vec *db, const char *coll, const char *tenant, const hx_vec_filter *f,
                            size_t *deleted, hx_err *err) {
  return delete_common(db, coll, tenant, NULL, 0, f, 1, deleted, err);
}

static json_t *new_payload(hx_vec_payload_op op, const json_t *cur, const json_t *arg) {
  json_t *r;
  switch (op) {
  case HX_VEC_PAYLOAD_SET:
    r = json_deep_copy(cur);
    if (r) json_object_update(r, (json_t *)arg);
    return r;
  case HX_VEC_PAYLOAD_OVERWRITE:
    return json_deep_copy(arg);
  case HX_VEC_PAYLOAD_DELETE_KEYS: {
    r = json_deep_copy(cur);
    size_t i;
    const json_t *k;
    json_array_foreach(arg, i, k) if (r && json_is_string(k)) json_object_del(r, json_string_value(k));
    return r;
  }
  default:
    return json_object();
  }
}

int hx_vec_payload_update(hx_vec *db, const char *coll, const char *tenant, hx_vec_payload_op op,
                          const json_t *payload, const hx_vec_id *ids, size_t n, const hx_vec_filter *f,
                          size_t *updated, hx_err *err) {
  if (op < HX_VEC_PAYLOAD_SET || op > HX_VEC_PAYLOAD_CLEAR) return hx_err_set(err, HX_EINVAL, "unknown payload op");
  if ((op == HX_VEC_PAYLOAD_SET || op == HX_VEC_PAYLOAD_OVERWRITE) && !json_is_object(payload))
    return hx_err_set(err, HX_EINVAL, "payload must be an object");
  if (op == HX_VEC_PAYLOAD_DELETE_KEYS && !json_is_array(payload))
    return hx_err_set(err, HX_EINVAL, "keys must be an array of strings");
  hx__coll *c;
  hx__shard *s;
  hx__buf b = {0};
  int rc = write_begin(db, coll, tenant, &c, &s, err);
  if (rc) return rc;
  hx__put_cstr(&b, coll);
  hx__put_cstr(&b, tenant);
  size_t at = b.n;
  hx__buf_u32(&b, 0);
  uint32_t cnt = 0;
  size_t total = ids ? n : s->n;
  for (size_t k = 0; k < total; k++) {
    uint32_t sl = ids ? hx__shard_find(s, &ids[k]) : (uint32_t)k;
    if (sl == NOSLOT || s->dead[sl]) continue;
    if (!ids && f && !hx_vec_filter_match(f, &s->ids[sl], s->payload[sl])) continue;
    json_t *np = new_payload(op, s->payload[sl], payload);
    char *txt = np ? json_dumps(np, JSON_COMPACT) : NULL;
    json_decref(np);
    if (!txt) {
      rc = hx_err_set(err, HX_ENOMEM, "out of memory");
      break;
    }
    hx__put_id(&b, &s->ids[sl]);
    hx__put_cstr(&b, txt);
    free(txt);
    cnt++;
  }
  if (!b.oom) memcpy(b.p + at, &cnt, 4);
  if (updated) *updated = cnt;
  if (rc || !cnt) {
    write_abort(db, s);
    hx__buf_release(&b);
    return rc;
  }
  rc = write_commit(db, c, s, HX__R_PAYLOAD, &b, err);
  hx__buf_release(&b);
  return rc;
}

/* ---- reads ---- */

static int read_begin(hx_vec *db, const char *coll, const char *tenant, hx__coll **c, hx__shard **s,
                      hx_err *err) {
  return shard_begin(db, coll, tenant, 0, c, s, err);
}

static void read_end(hx_vec *db, hx__shard *s) {
  if (s) pthread_rwlock_unlock(&s->lock);
  pthread_rwlock_unlock(&db->lock);
}

static int fill_record(const hx__coll *c, const hx__shard *s, uint32_t sl, int with, hx_vec_record *out) {
  memset(out, 0, sizeof *out);
  out->id = s->ids[sl];
  out->version = s->ver[sl];
  if (with & HX_VEC_WITH_PAYLOAD) out->payload = json_incref(s->payload[sl]);
  if (with & HX_VEC_WITH_VECTORS) {
    out->nvec = c->ndense;
    out->vectors = calloc(c->ndense + 1, sizeof *out->vectors);
    out->dims = calloc(c->ndense + 1, sizeof *out->dims);
    if (!out->vectors || !out->dims) return HX_ENOMEM;
    for (uint32_t i = 0; i < c->ndense; i++) {
      if (!s->dv[i].has[sl]) continue;
      uint32_t dim = c->dense[i].dim;
      out->dims[i] = dim;
      out->vectors[i] = malloc((size_t)dim * 4);
      if (!out->vectors[i]) return HX_ENOMEM;
      memcpy(out->vectors[i], s->dv[i].data + (size_t)sl * dim, (size_t)dim * 4);
    }
  }
  return 0;
}

void hx_vec_record_release(hx_vec_record *r) {
  if (!r) return;
  json_decref(r->payload);
  for (size_t i = 0; r->vectors && i < r->nvec; i++) free(r->vectors[i]);
  free(r->vectors);
  free(r->dims);
  memset(r, 0, sizeof *r);
}

void hx_vec_records_release(hx_vec_record *r, size_t n) {
  for (size_t i = 0; r && i < n; i++) hx_vec_record_release(&r[i]);
}

int hx_vec_get(hx_vec *db, const char *coll, const char *tenant, const hx_vec_id *id, int with,
               hx_vec_record *out, hx_err *err) {
  hx__coll *c;
  hx__shard *s;
  int rc = read_begin(db, coll, tenant, &c, &s, err);
  if (rc) return rc;
  uint32_t sl = s ? hx__shard_find(s, id) : NOSLOT;
  if (sl == NOSLOT) {
    char b[37];
    hx_vec_id_format(id, b);
    rc = hx_err_set(err, HX_ENOENT, "point %s not found", b);
  } else if ((rc = fill_record(c, s, sl, with, out))) {
    hx_vec_record_release(out);
    hx_err_set(err, rc, "out of memory");
  }
  read_end(db, s);
  return rc;
}

/* Max-heap of slots by id: keeps the k smallest ids seen (a page of a scroll)
 * in O(n log k) without sorting the tenant. */
static int id_gt(const hx__shard *s, uint32_t a, uint32_t b) { return hx_vec_id_cmp(&s->ids[a], &s->ids[b]) > 0; }

static void idheap_down(const hx__shard *s, uint32_t *h, size_t n) {
  for (size_t i = 0;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && id_gt(s, h[l], h[m])) m = l;
    if (r < n && id_gt(s, h[r], h[m])) m = r;
    if (m == i) break;
    uint32_t t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

static void idheap_push(const hx__shard *s, uint32_t *h, size_t *n, size_t k, uint32_t sl) {
  if (*n == k) {
    if (!id_gt(s, h[0], sl)) return;
    h[0] = sl; /* replace the largest */
    idheap_down(s, h, *n);
    return;
  }
  size_t i = (*n)++;
  h[i] = sl;
  while (i && id_gt(s, h[i], h[(i - 1) / 2])) {
    uint32_t t = h[i];
    h[i] = h[(i - 1) / 2];
    h[(i - 1) / 2] = t;
    i = (i - 1) / 2;
  }
}

int hx_vec_scroll(hx_vec *db, const char *coll, const char *tenant, const hx_vec_id *offset, size_t limit,
                  const hx_vec_filter *f, int with, hx_vec_record **out, size_t *nout, int *has_next,
                  hx_vec_id *next_offset, hx_err *err) {
  hx__coll *c;
  hx__shard *s;
  *out = NULL;
  *nout = 0;
  if (has_next) *has_next = 0;
  int rc = read_begin(db, coll, tenant, &c, &s, err);
  if (rc || !s) {
    if (!rc) read_end(db, s);
    return rc;
  }
  size_t k = limit + 1 < (size_t)s->nlive + 1 ? limit + 1 : (size_t)s->nlive + 1, m = 0;
  uint32_t *sl = malloc((k + 1) * sizeof *sl);
  if (!sl) {
    read_end(db, s);
    return hx_err_set(err, HX_ENOMEM, "out of memory");
  }
  for (uint32_t i = 0; i < s->n; i++) {
    if (s->dead[i]) continue;
    if (offset && hx_vec_id_cmp(&s->ids[i], offset) < 0) continue;
    if (f && !hx_vec_filter_match(f, &s->ids[i], s->payload[i])) continue;
    idheap_push(s, sl, &m, k, i);
  }
  /* heap → ascending: pop the largest to the back */
  for (size_t end = m; end > 1; end--) {
    uint32_t t = sl[0];
    sl[0] = sl[end - 1];
    sl[end - 1] = t;
    idheap_down(s, sl, end - 1);
  }
  size_t take = m < limit ? m : limit;
  if (m > limit && has_next) {
    *has_next = 1;
    if (next_offset) *next_offset = s->ids[sl[limit]];
  }
  hx_vec_record *r = calloc(take + 1, sizeof *r);
  if (!r) rc = hx_err_set(err, HX_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < take; i++)
    if (fill_record(c, s, sl[i], with, &r[i])) rc = hx_err_set(err, HX_ENOMEM, "out of memory");
  if (rc) {
    hx_vec_records_release(r, take);
    free(r);
  } else {
    *out = r;
    *nout = take;
  }
  free(sl);
  read_end(db, s);
  return rc;
}

int hx_vec_count(hx_vec *db, const char *coll, const char *tenant, const hx_vec_filter *f, int exact,
                 size_t *count, hx_err *err) {
  hx__coll *c;
  hx__shard *s;
  *count = 0;
  int rc = read_begin(db, coll, tenant, &c, &s, err);
  if (rc || !s) {
    if (!rc) read_end(db, s);
    return rc;
  }
  if (!f) {
    *count = s->nlive;
  } else if (!exact) {
    uint32_t *cand = NULL;
    size_t nc = 0;
    int ex;
    *count = hx__pidx_estimate(c, s, f, &cand, &nc, &ex);
    free(cand);
  } else {
    uint32_t *cand = NULL;
    size_t nc = 0;
    int ex = 0;
    hx__pidx_estimate(c, s, f, &cand, &nc, &ex);
    if (cand && ex) {
      *count = nc; /* the index answered exactly */
    } else if (cand) {
      for (size_t i = 0; i < nc; i++)
        if (!s->dead[cand[i]] && hx_vec_filter_match(f, &s->ids[cand[i]], s->payload[cand[i]])) (*count)++;
    } else {
      for (uint32_t i = 0; i < s->n; i++)
        if (!s->dead[i] && hx_vec_filter_match(f, &s->ids[i], s->payload[i])) (*count)++;
    }
    free(cand);
  }
  read_end(db, s);
  return 0;
}

/* ---- integrity check ---- */

static int check_shard(hx_vec *db, const hx__coll *c, hx__shard *s, hx_err *err) {
  uint32_t live = 0;
  for (uint32_t sl = 0; sl < s->n; sl++) {
    if (s->dead[sl]) {
      if (s->payload[sl]) return hx_err_set(err, HX_ECORRUPT, "shard %s: dead slot %u has a payload", s->tenant, sl);
      continue;
    }
    live++;
    if (!json_is_object(s->payload[sl]))
      return hx_err_set(err, HX_ECORRUPT, "shard %s: slot %u payload is not an object", s->tenant, sl);
    if (hx__shard_find(s, &s->ids[sl]) != sl)
      return hx_err_set(err, HX_ECORRUPT, "shard %s: slot %u not found by its id", s->tenant, sl);
    for (uint32_t i = 0; i < c->ndense; i++) {
      hx__dvec *dv = &s->dv[i];
      if (dv->g && sl < s->gdone && dv->has[sl] && !hx__hnsw_contains(dv->g, sl))
        return hx_err_set(err, HX_ECORRUPT, "shard %s: live slot %u missing from graph '%s'", s->tenant, sl,
                          c->dense[i].name);
    }
  }
  if (live != s->nlive)
    return hx_err_set(err, HX_ECORRUPT, "shard %s: %u live slots, %u recorded", s->tenant, live, s->nlive);
  for (uint32_t i = 0; i < c->ndense; i++) {
    uint32_t h = 0;
    for (uint32_t sl = 0; sl < s->n; sl++) h += !s->dead[sl] && s->dv[i].has[sl];
    if (h != s->dv[i].nlive_has)
      return hx_err_set(err, HX_ECORRUPT, "shard %s: %u live points have vector %u, %u recorded", s->tenant, h, i,
                        s->dv[i].nlive_has);
  }
  size_t inmap = 0;
  for (size_t j = 0; j < s->idcap; j++) {
    uint32_t sl = s->idtab[j];
    if (sl == NOSLOT) continue;
    inmap++;
    if (sl >= s->n || s->dead[sl])
      return hx_err_set(err, HX_ECORRUPT, "shard %s: id map points at dead slot %u", s->tenant, sl);
  }
  if (inmap != live) return hx_err_set(err, HX_ECORRUPT, "shard %s: id map has %zu entries, %u live", s->tenant, inmap, live);
  for (uint32_t i = 0; i < c->ndense; i++) {
    int rc;
    if (s->dv[i].g && (rc = hx__hnsw_check(s->dv[i].g, err))) return rc;
  }
  for (uint32_t i = 0; i < c->nsparse; i++) {
    int rc = hx__svec_check(s, i, err);
    if (rc) return rc;
  }
  (void)db;
  return hx__pidx_check(c, s, err);
}

int hx_vec_check(hx_vec *db, hx_err *err) {
  int rc = 0;
  pthread_rwlock_wrlock(&db->lock);
  HX__SMAP_EACH(&db->colls, ce) {
    hx__coll *c = ce->val;
    HX__SMAP_EACH(&c->shards, se) {
      if ((rc = check_shard(db, c, se->val, err))) goto out;
    }
  }
out:
  pthread_rwlock_unlock(&db->lock);
  return rc;
}
