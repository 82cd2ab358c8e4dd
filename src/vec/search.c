/*
 * search.c - dense and sparse search inside one tenant shard, and the planner.
 *
 * Plan for a dense query (per tenant, so another tenant's size never matters):
 *  - no graph yet (tenant below index_threshold) or exact requested: scan;
 *  - a filter whose payload-index estimate is at most filter_exact_max: scan
 *    only the index's candidates (each checked against the whole filter);
 *  - otherwise search the graph with the filter applied during traversal
 *    (rejected nodes are still expanded);
 *  - with quantization both the filtered scan and the graph walk run on the
 *    codes (a quarter of the bytes for int8) and limit*oversampling candidates
 *    are rescored on the float vectors;
 *  - if the graph returns fewer than limit+offset results (a very selective
 *    unindexed filter, many tombstones), fall back to a scan, so a filter never
 *    yields fewer than limit results when enough points match.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vec/vec_int.h"

static float d_dot(const hx__space *s, const void *q, uint32_t id) {
  const hx__vec_kernels *k = s->k;
  return -k->dot(q, (const float *)s->base + (size_t)id * s->dim, s->dim);
}

static float d_l2(const hx__space *s, const void *q, uint32_t id) {
  const hx__vec_kernels *k = s->k;
  return k->l2(q, (const float *)s->base + (size_t)id * s->dim, s->dim);
}

static const void *v_float(const hx__space *s, uint32_t id) {
  return (const float *)s->base + (size_t)id * s->dim;
}

void hx__space_float(hx__space *sp, const hx_vec *db, const hx__dense_def *d, const hx__dvec *dv) {
  memset(sp, 0, sizeof *sp);
  sp->base = dv->data;
  sp->stride = (size_t)d->dim * sizeof(float);
  sp->dim = d->dim;
  sp->k = db->k;
  sp->dist = d->dist == HX_VEC_EUCLID ? d_l2 : d_dot;
  sp->vec = v_float;
}

float hx__score(const hx__dense_def *d, float dist) {
  return d->dist == HX_VEC_EUCLID ? sqrtf(dist > 0 ? dist : 0) : -dist;
}

typedef struct accept_ctx {
  const hx__shard *s;
  const uint8_t *has;
  const hx_vec_filter *f;
} accept_ctx;

static int accept(void *ctx, uint32_t sl) {
  const accept_ctx *a = ctx;
  if (a->s->dead[sl] || !a->has[sl]) return 0;
  return !a->f || hx_vec_filter_match(a->f, &a->s->ids[sl], a->s->payload[sl]);
}

/* Exact scan over cand (or all slots when cand == NULL). A candidate list is
 * scattered over memory, so whole vectors are fetched ahead: about 2 KB in
 * flight (one float vector of 384 dims, five int8 codes), enough to hide the
 * latency without more outstanding fetches than the core can track. On codes
 * the accepted slots are gathered into blocks and scored by one batch kernel
 * call per block (the filtered 1% path: an int8 scan of every match). */
enum { SCAN_BLOCK = 64 };

static void keep_block(hx__heap *h, size_t want, const hx__space *sp, const void *q, const uint32_t *blk,
                       size_t nb) {
  float bd[SCAN_BLOCK];
  sp->dist_batch(sp, q, blk, nb, bd);
  for (size_t j = 0; j < nb; j++)
    if (h->n < want || bd[j] < h->a[0].d) hx__heap_keep(h, want, bd[j], blk[j]);
}

static size_t scan(const hx__space *sp, const void *q, accept_ctx *a, const uint32_t *cand, size_t ncand,
                   size_t want, hx__cand *out) {
  hx__heap h;
  if (hx__heap_init(&h, want + 1, 1)) return 0;
  size_t n = cand ? ncand : a->s->n;
  size_t ahead = sp->stride >= 2048 ? 1 : 2048 / sp->stride;
  uint32_t blk[SCAN_BLOCK];
  size_t nb = 0;
  for (size_t i = 0; cand && i < ahead && i < n; i++)
    for (size_t o = 0; o < sp->stride; o += 64) __builtin_prefetch((const char *)sp->base + (size_t)cand[i] * sp->stride + o);
  for (size_t i = 0; i < n; i++) {
    uint32_t sl = cand ? cand[i] : (uint32_t)i;
    if (cand && i + ahead < n) {
      const char *v = (const char *)sp->base + (size_t)cand[i + ahead] * sp->stride;
      for (size_t o = 0; o < sp->stride; o += 64) __builtin_prefetch(v + o);
    }
    if (!accept(a, sl)) continue;
    if (!sp->dist_batch) {
      hx__heap_keep(&h, want, sp->dist(sp, q, sl), sl);
      continue;
    }
    blk[nb++] = sl;
    if (nb == SCAN_BLOCK) {
      keep_block(&h, want, sp, q, blk, nb);
      nb = 0;
    }
  }
  if (nb) keep_block(&h, want, sp, q, blk, nb);
  size_t m = hx__heap_drain_sorted(&h, out);
  hx__heap_release(&h);
  return m;
}

/* Adds the exact distances of not-yet-indexed slots [from, to) to the n graph
 * results in out (sorted), keeping the best want. */
static size_t merge_pending(const hx__space *sp, const void *q, accept_ctx *a, uint32_t from, uint32_t to,
                            size_t want, hx__cand *out, size_t n) {
  hx__heap h;
  if (hx__heap_init(&h, want + 1, 1)) return n;
  for (size_t i = 0; i < n; i++) hx__heap_keep(&h, want, out[i].d, out[i].id);
  for (uint32_t sl = from; sl < to; sl++)
    if (accept(a, sl)) hx__heap_keep(&h, want, sp->dist(sp, q, sl), sl);
  size_t m = hx__heap_drain_sorted(&h, out);
  hx__heap_release(&h);
  return m;
}

static int cmp_cand(const void *x, const void *y) {
  float a = ((const hx__cand *)x)->d, b = ((const hx__cand *)y)->d;
  return a < b ? -1 : a > b;
}

/* Rescoring: the n candidates found on codes get their float distance; the
 * best want, sorted, go to out. */
static size_t rescore(const hx__space *sp, const float *qv, hx__cand *tmp, size_t n, size_t want, hx__cand *out) {
  /* the first lines of every vector now (their misses overlap), the rest of
   * each vector one ahead (the hardware streams within a vector) */
  for (size_t i = 0; i < n; i++) __builtin_prefetch((const char *)sp->base + (size_t)tmp[i].id * sp->stride);
  for (size_t i = 0; i < n; i++) {
    if (i + 1 < n) {
      const char *v = (const char *)sp->base + (size_t)tmp[i + 1].id * sp->stride;
      for (size_t o = 0; o < sp->stride; o += 64) __builtin_prefetch(v + o);
    }
    tmp[i].d = sp->dist(sp, qv, tmp[i].id);
  }
  qsort(tmp, n, sizeof *tmp, cmp_cand);
  if (n > want) n = want;
  memcpy(out, tmp, n * sizeof *out);
  return n;
}

static size_t dense_search(hx_vec *db, const hx__coll *c, hx__shard *s, uint32_t vi, const hx_vec_query *q,
                           const float *qv, size_t want, hx__cand *out, int *oom) {
  const hx__dense_def *d = &c->dense[vi];
  hx__dvec *dv = &s->dv[vi];
  hx__space sp;
  hx__space_float(&sp, db, d, dv);
  accept_ctx a = {s, dv->has, q->filter};
  /* every slot a result: skip the per-node callback (and its two memory loads) */
  hx__accept_fn acc = q->filter || s->nlive != s->n || dv->nlive_has != s->nlive ? accept : NULL;
  uint32_t thr = c->index_threshold ? c->index_threshold : 1000;
  int graph = dv->g && !q->exact && s->nlive >= thr;
  if (!graph) return scan(&sp, qv, &a, NULL, 0, want, out);
  /* with quantization, candidates are found on the codes (graph or filtered
   * scan) and limit*oversampling of them rescored on the float vectors */
  int quant = dv->q.kind && !q->ignore_quant && dv->q.coded; /* every slot with the vector has codes */
  float os = q->oversampling > 1 ? q->oversampling : 3;
  size_t k2 = quant ? (size_t)ceilf((float)want * os) : want;
  hx__cand *tmp = quant ? malloc((k2 + 1) * sizeof *tmp) : out;
  uint8_t *qb = quant ? malloc(dv->q.stride + 64) : NULL;
  hx__space qs = sp;
  const void *qq = qv;
  size_t n;
  if (quant) {
    if (!tmp || !qb) {
      free(tmp);
      free(qb);
      *oom = 1;
      return 0;
    }
    hx__quant_space(&qs, db, d, dv, qv, qb);
    qq = qb;
  }
  if (q->filter) {
    uint32_t *cand = NULL;
    size_t nc = 0;
    int exact = 0;
    size_t est = hx__pidx_estimate(c, s, q->filter, &cand, &nc, &exact);
    if (est <= db->opts.filter_exact_max) {
      accept_ctx a2 = {s, dv->has, cand && exact ? NULL : q->filter};
      n = scan(&qs, qq, &a2, cand, cand ? nc : 0, k2, tmp);
      free(cand);
      if (quant) {
        n = rescore(&sp, qv, tmp, n, want, out);
        free(tmp);
        free(qb);
      }
      return n;
    }
    free(cand);
  }
  uint32_t ef = q->ef ? q->ef : (want > 64 ? (uint32_t)want : 64);
  n = hx__hnsw_search(dv->g, &qs, qq, ef > k2 ? ef : (uint32_t)k2, k2, acc, &a, tmp);
  if (quant) {
    n = rescore(&sp, qv, tmp, n, want, out);
    free(tmp);
    free(qb);
  }
  if (s->gdone < s->n) n = merge_pending(&sp, qv, &a, s->gdone, s->n, want, out, n);
  if (n < want && n < s->nlive) n = scan(&sp, qv, &a, NULL, 0, want, out);
  return n;
}

void hx_vec_hits_release(hx_vec_hit *hits, size_t n) {
  for (size_t i = 0; hits && i < n; i++) {
    json_decref(hits[i].payload);
    free(hits[i].vector);
    hits[i].payload = NULL;
    hits[i].vector = NULL;
  }
}

int hx_vec_search(hx_vec *db, const char *coll, const char *tenant, const hx_vec_query *q, hx_vec_hit *hits,
                  size_t *nhits, hx_err *err) {
  *nhits = 0;
  if (!q) return hx_err_set(err, HX_EINVAL, "no query");
  if (!tenant || !*tenant) return hx_err_set(err, HX_EINVAL, "tenant must be 1-255 bytes");
  size_t limit = q->limit ? q->limit : 10;
  if (limit > 100000 || q->offset > 1000000) return hx_err_set(err, HX_EINVAL, "limit or offset too large");
  size_t want = limit + q->offset;
  int rc = 0, oom = 0;
  pthread_rwlock_rdlock(&db->lock);
  hx__coll *c = coll ? hx__smap_get(&db->colls, coll, strlen(coll)) : NULL;
  hx__shard *s = NULL;
  hx__cand *res = NULL;
  float *qv = NULL;
  size_t n = 0;
  const hx__dense_def *dd = NULL;
  int sparse = q->sp_idx != NULL || (q->sp_n && !q->v);
  if (!c) {
    rc = hx_err_set(err, HX_ENOENT, "collection '%s' not found", coll ? coll : "");
    goto out;
  }
  int vi = -1;
  const char *vname = q->vector ? q->vector : "";
  if (sparse) {
    for (uint32_t i = 0; i < c->nsparse; i++)
      if (!strcmp(c->sparse[i].name, vname)) vi = (int)i;
    if (vi < 0) {
      rc = hx_err_set(err, HX_EINVAL, "collection has no sparse vector named '%s'", vname);
      goto out;
    }
    for (uint32_t i = 0; i < q->sp_n; i++)
      if (!isfinite(q->sp_val[i])) {
        rc = hx_err_set(err, HX_EINVAL, "query: sparse vector has a non-finite value");
        goto out;
      }
  } else {
    for (uint32_t i = 0; i < c->ndense; i++)
      if (!strcmp(c->dense[i].name, vname)) vi = (int)i;
    if (vi < 0) {
      rc = hx_err_set(err, HX_EINVAL, "collection has no vector named '%s'", vname);
      goto out;
    }
    dd = &c->dense[vi];
    if (!q->v || q->dim != dd->dim) {
      rc = hx_err_set(err, HX_EINVAL, "query vector has dimension %u, expected %u", q->dim, dd->dim);
      goto out;
    }
    for (uint32_t i = 0; i < q->dim; i++)
      if (!isfinite(q->v[i])) {
        rc = hx_err_set(err, HX_EINVAL, "query vector has a non-finite value");
        goto out;
      }
  }
  pthread_mutex_lock(&c->smu);
  s = hx__smap_get(&c->shards, tenant, strlen(tenant));
  pthread_mutex_unlock(&c->smu);
  if (!s) goto out; /* the tenant has no data: no hits */
  pthread_rwlock_rdlock(&s->lock);
  res = malloc((want + 1) * sizeof *res);
  if (!res) {
    oom = 1;
  } else if (sparse) {
    rc = hx__sparse_search(c, s, (uint32_t)vi, q, want, res, &n, err);
  } else {
    qv = malloc((size_t)dd->dim * sizeof *qv);
    if (!qv) {
      oom = 1;
    } else {
      memcpy(qv, q->v, (size_t)dd->dim * sizeof *qv);
      if (dd->dist == HX_VEC_COSINE) {
        double ss = 0;
        for (uint32_t i = 0; i < dd->dim; i++) ss += (double)qv[i] * qv[i];
        if (ss > 0)
          for (uint32_t i = 0; i < dd->dim; i++) qv[i] = (float)(qv[i] / sqrt(ss));
      }
      n = dense_search(db, c, s, (uint32_t)vi, q, qv, want, res, &oom);
    }
  }
  if (!rc && !oom) {
    for (size_t i = q->offset; i < n; i++) {
      float score = dd ? hx__score(dd, res[i].d) : -res[i].d;
      if (q->has_threshold) {
        int euclid = dd && dd->dist == HX_VEC_EUCLID;
        if (euclid ? score > q->score_threshold : score < q->score_threshold) break;
      }
      hx_vec_hit *h = &hits[*nhits];
      h->id = s->ids[res[i].id];
      h->score = score;
      h->version = s->ver[res[i].id];
      h->payload = (q->with & HX_VEC_WITH_PAYLOAD) ? json_incref(s->payload[res[i].id]) : NULL;
      h->vector = NULL;
      h->dim = 0;
      if (dd && (q->with & HX_VEC_WITH_VECTORS)) {
        h->vector = malloc((size_t)dd->dim * sizeof(float));
        if (!h->vector) {
          oom = 1;
          break;
        }
        memcpy(h->vector, s->dv[vi].data + (size_t)res[i].id * dd->dim, (size_t)dd->dim * sizeof(float));
        h->dim = dd->dim;
      }
      (*nhits)++;
    }
  }
  pthread_rwlock_unlock(&s->lock);
  if (oom) {
    hx_vec_hits_release(hits, *nhits);
    *nhits = 0;
    rc = hx_err_set(err, HX_ENOMEM, "out of memory");
  }
out:
  pthread_rwlock_unlock(&db->lock);
  free(res);
  free(qv);
  return rc;
}
