/*
 * search.c - runs a plan against the vector store (behaviour in search.h).
 *
 * Each list's candidates for the window are fetched bare (ids and scores),
 * merged by point id, fused or sorted (ties by point id), cut at the
 * threshold, re-ranked with MMR, and sliced; only the page's points are then
 * read in full (payload, vector when asked).
 */
#include "search/search.h"
#include "search/search_int.h"
#include "search/sparse.h"
#include "obs/metrics.h"
#include "util/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct hx_search {
  hx__qcache *cache;   /* owned, NULL = no cache */
};

int hx_search_new(size_t cache_entries, hx_search **out, hx_err *err) {
  hx_search *s = calloc(1, sizeof *s);
  if (!s || hx__qcache_new(cache_entries, &s->cache)) {
    free(s);
    return hx_err_set(err, HX_ENOMEM, "out of memory");
  }
  *out = s;
  return 0;
}

void hx_search_free(hx_search *s) {
  if (!s) return;
  hx__qcache_free(s->cache);
  free(s);
}

/* A store's HX_EINVAL is a bad filter: 422. */
static int store_err(int rc, hx_err *err) {
  if (rc == HX_EINVAL && err) err->status = 422;
  return rc;
}

/* The query's dense vector: embedded (through the cache) into out[dim]. */
static int embed_query(hx_search *s, hx_embedder *e, const char *text, float *out, hx_err *err) {
  const hx_model_info *info = hx_embedder_info(e);
  if (hx__qcache_get(s->cache, info->name, info->version, text, out, info->dim)) return 0;
  int rc = hx_embedder_embed(e, &text, NULL, 1, out, NULL, NULL, err);
  if (rc == HX_EINVAL && err) err->status = 422;   /* e.g. a query with no word at all */
  if (!rc) hx__qcache_put(s->cache, info->name, info->version, text, out, info->dim);
  return rc;
}

/* One list from the store into cands (appending; merging into existing ids). */
typedef struct list {
  hx_search_cand *c;
  size_t n, cap;
} list;

static int cmp_id(const void *a, const void *b) {
  return memcmp(((const hx_search_cand *)a)->id.b, ((const hx_search_cand *)b)->id.b, 16);
}

static int fetch(hx_vstore *vs, const char *org, const hx_vquery *q, int sparse, list *l,
                 hx_err *err) {
  if (q->sparse && q->sp_n == 0) return 0;   /* a query without terms finds nothing */
  hx_vhit *hits = calloc(q->limit ? q->limit : 1, sizeof *hits);
  size_t nh = 0, old = l->n;
  if (!hits) return hx_err_set(err, HX_ENOMEM, "out of memory");
  int rc = vs->ops->search(vs, HX_COLLECTION, org, q, hits, &nh, err);
  if (rc) {
    free(hits);
    return store_err(rc, err);
  }
  if (l->n + nh > l->cap) {
    size_t cap = l->n + nh;
    hx_search_cand *nc = realloc(l->c, (cap ? cap : 1) * sizeof *nc);
    if (!nc) {
      hx_vstore_hits_release(hits, nh);
      free(hits);
      return hx_err_set(err, HX_ENOMEM, "out of memory");
    }
    l->c = nc;
    l->cap = cap;
  }
  /* the first list's candidates sorted by id, so the second merges by binary search */
  if (old) qsort(l->c, old, sizeof *l->c, cmp_id);
  for (size_t i = 0; i < nh; i++) {
    hx_search_cand key = {.id = hits[i].id}, *c = old ? bsearch(&key, l->c, old, sizeof *l->c, cmp_id) : NULL;
    if (!c) {
      c = &l->c[l->n++];
      memset(c, 0, sizeof *c);
      c->id = hits[i].id;
    }
    int rank = (int)i + 1;
    if (sparse) c->sparse_score = hits[i].score, c->sparse_rank = rank;
    else c->dense_score = hits[i].score, c->dense_rank = rank;
    c->score = hits[i].score;
    if (!c->payload) c->payload = hits[i].payload, hits[i].payload = NULL;
    if (!c->vec && hits[i].vec) c->vec = hits[i].vec, c->dim = hits[i].dim, hits[i].vec = NULL;
  }
  hx_vstore_hits_release(hits, nh);
  free(hits);
  return 0;
}

/* Payloads (and dense vectors when need_vec) of candidates that came without
 * them: lists are fetched bare and only the page's points are read in full. A
 * point deleted since the search is marked gone. */
static int fill(hx_vstore *vs, const char *org, hx_search_cand *c, size_t n, int need_payload, int need_vec,
                hx_err *err) {
  for (size_t i = 0; i < n; i++) {
    if ((!need_payload || c[i].payload) && (!need_vec || c[i].vec)) continue;
    json_t *pl = NULL;
    float *v = NULL;
    int dim = 0;
    hx_err e2 = {0};
    int rc = vs->ops->get(vs, HX_COLLECTION, org, &c[i].id, &v, &dim, &pl, &e2);
    if (rc == HX_ENOENT) {
      c[i].gone = 1;
      continue;
    }
    if (rc) return hx_err_set(err, rc, "%s", e2.msg);
    if (need_payload && !c[i].payload) c[i].payload = pl, pl = NULL;
    if (need_vec && !c[i].vec) c[i].vec = v, c[i].dim = dim, v = NULL;
    json_decref(pl);
    free(v);
  }
  return 0;
}

static json_t *list_explain(int rank, float score) {
  return rank ? json_pack("{s:f,s:i}", "score", (double)score, "rank", rank) : json_null();
}

static json_t *result_json(const hx_search_plan *p, const hx_search_cand *c) {
  char pid[37];
  hx_uuid_str(&c->id, pid);
  json_t *r = json_pack("{s:s,s:f,s:o}", "point_id", pid, "score", c->score, "payload",
                        c->payload ? json_incref(c->payload) : json_object());
  if (p->with_vector) {
    json_t *v = json_array();
    for (int i = 0; c->vec && i < c->dim; i++) json_array_append_new(v, json_real((double)c->vec[i]));
    json_object_set_new(r, "vector", v);
  }
  if (p->explain)
    json_object_set_new(r, "explain",
                        json_pack("{s:o,s:o,s:f,s:o}", "dense", list_explain(c->dense_rank, c->dense_score), "sparse",
                                  list_explain(c->sparse_rank, c->sparse_score), "fused_score", c->score,
                                  "mmr_penalty", p->mmr ? json_real(c->mmr_penalty) : json_null()));
  return r;
}

int hx_search_run(hx_search *s, hx_vstore *vs, hx_models *models, const char *org, const hx_search_plan *p,
                  json_t **out, hx_err *err) {
  double t0 = hx_mono();
  int dense = p->mode != HX_SEARCH_SPARSE, sparse = p->mode != HX_SEARCH_DENSE;
  hx_embedder *e = NULL;
  float *qv = NULL;
  hx_sparse sq = {0};
  list l = {0};
  json_t *results = NULL;
  int rc = 0;
  *out = NULL;
  /* the model: checked by name when the client names one (400 / 422), then opened once per process */
  if ((p->model && (rc = hx_models_check(models, p->model, NULL, err))) ||
      (rc = hx_models_get(models, p->model, &e, err)))
    goto out;
  const hx_model_info *info = hx_embedder_info(e);
  if (dense && p->vector) {
    qv = p->vector;
  } else if (dense) {
    if (!(qv = malloc((size_t)info->dim * sizeof *qv))) {
      rc = hx_err_set(err, HX_ENOMEM, "out of memory");
      goto out;
    }
    if ((rc = embed_query(s, e, p->query_text, qv, err))) goto out;
  }
  if (sparse && (rc = hx_sparse_encode(p->query_text, strlen(p->query_text), 1, &sq, err))) goto out;

  hx_vquery dq = {.vec = qv, .dim = p->vector ? p->dim : info->dim, .filter = p->filter};
  hx_vquery sqy = {.sparse = 1, .sp_idx = sq.idx, .sp_val = sq.val, .sp_n = sq.n, .filter = p->filter};
  /* every mode ranks a window of candidates itself, ties broken by point id, so
   * a page is a slice of one deterministic ranking whatever limit and offset */
  size_t want = p->offset + p->limit;
  size_t window = (want + HX_SEARCH_WINDOW - 1) / HX_SEARCH_WINDOW * HX_SEARCH_WINDOW;
  size_t pool = p->mmr && (size_t)p->mmr_candidates > window ? (size_t)p->mmr_candidates : window;
  size_t depth = p->mode == HX_SEARCH_HYBRID ? pool * HX_SEARCH_OVERFETCH : pool;
  dq.limit = sqy.limit = depth;
  dq.with_payload = sqy.with_payload = 0;
  dq.with_vector = p->mmr;
  dq.exact = sqy.exact = p->exact;
  if (p->mode != HX_SEARCH_HYBRID && p->has_threshold) {   /* one list: the store cuts at the threshold */
    dq.has_threshold = sqy.has_threshold = 1;
    dq.threshold = sqy.threshold = p->threshold;
  }
  if (dense && (rc = fetch(vs, org, &dq, 0, &l, err))) goto out;
  if (sparse && (rc = fetch(vs, org, &sqy, 1, &l, err))) goto out;
  /* the lexical embedder's dense list is a noisier bag of words: it refines BM25 (search.h) */
  double wd = p->has_weights ? p->w_dense
              : strcmp(info->kind, "lexical") == 0 && !p->vector ? HX_SEARCH_LEXICAL_DENSE_WEIGHT : 1.0;
  double ws = p->has_weights ? p->w_sparse : 1.0;
  if (p->mode == HX_SEARCH_HYBRID) hx_search_fuse(l.c, l.n, p->fusion, p->rrf_k, wd, ws);
  else hx_search_sort(l.c, l.n);
  size_t n = l.n;
  if (p->has_threshold)
    while (n && l.c[n - 1].score < p->threshold) n--;
  if (n > pool) n = pool;
  if (p->mmr) {
    if ((rc = fill(vs, org, l.c, n, 0, 1, err))) goto out;
    if (hx_search_mmr(l.c, n, want < n ? want : n, p->mmr_lambda)) {
      rc = hx_err_set(err, HX_ENOMEM, "out of memory");
      goto out;
    }
  }
  size_t first = p->offset < n ? p->offset : n;
  if (n > want) n = want;
  if ((rc = fill(vs, org, l.c + first, n - first, 1, p->with_vector, err))) goto out;
  results = json_array();
  for (size_t i = first; i < n; i++)
    if (!l.c[i].gone) json_array_append_new(results, result_json(p, &l.c[i]));
  *out = json_pack("{s:o,s:s,s:s,s:I}", "results", results, "query_model", info->name, "query_model_ver",
                   info->version, "total", (json_int_t)json_array_size(results));
  results = NULL;
  if (p->explain && p->mode == HX_SEARCH_HYBRID)
    json_object_set_new(*out, "fusion",
                        json_pack("{s:s,s:i,s:{s:f,s:f}}", "method", p->fusion == HX_FUSION_RRF ? "rrf" : "dbsf",
                                  "rrf_k", p->rrf_k, "weights", "dense", wd, "sparse", ws));
out:
  hx_metrics_search(rc ? "error" : "success", hx_mono() - t0);
  json_decref(results);
  hx_search_cands_release(l.c, l.n);
  free(l.c);
  hx_sparse_release(&sq);
  if (qv != p->vector) free(qv);
  return rc;
}
