/*
 * query.c - Qdrant's universal query (POST /points/query) on the engine.
 *
 * A request is a tree: each node may have prefetches (nodes themselves) and a
 * query. A node's result is a ranked list of (id, score):
 *   - nearest (a dense list, a sparse {indices, values}, or a point id whose
 *     stored vector is used and which is excluded from the results, as Qdrant
 *     does): an engine search restricted to the node's filter and, when the
 *     node has prefetches, to the union of their candidates (re-scoring);
 *   - fusion rrf (score = sum of 1 / (k + rank), rank from 0, Qdrant's k = 2
 *     unless {"rrf": {"k"}} says otherwise) or dbsf (each list normalised to
 *     0..1 between mean -/+ 3 sample standard deviations, then summed) over
 *     the prefetch lists;
 *   - no query: the single prefetch's list, or the points in id order.
 * A node's filter is ANDed into all its prefetches (Qdrant propagates the
 * root filter down). Only the root applies offset and fetches payloads and
 * vectors (hx_vec_get per hit).
 */
#include "qdrant/qdrant_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_RRF_K 2
#define MAX_DEPTH 8

typedef struct {
  hx_vec_id id;
  float score;
} qd_hit;

typedef struct {
  qd_hit *h;
  size_t n;
  int small_better;          /* Euclid distances */
} qd_list;

typedef struct {
  hx_vec *db;
  const hx__qd_coll *c;
  hx__qd_arena a;
} qd_ctx;

static json_t *and_filters(const json_t *a, const json_t *b) {
  int na = !a || json_is_null(a), nb = !b || json_is_null(b);
  if (na && nb) return NULL;
  if (na) return json_incref((json_t *)b);
  if (nb) return json_incref((json_t *)a);
  return json_pack("{s:[O,O]}", "must", a, b);
}

static int cmp_hit_desc(const void *x, const void *y) {
  const qd_hit *a = x, *b = y;
  if (a->score != b->score) return a->score > b->score ? -1 : 1;
  return hx_vec_id_cmp(&a->id, &b->id);
}

static json_t *ids_json(const qd_list *l) {
  json_t *arr = json_array();
  for (size_t i = 0; i < l->n; i++) json_array_append_new(arr, hx_vec_id_to_json(&l->h[i].id));
  return arr;
}

/* ---- fusion ---- */

static int cmp_hit_id(const void *x, const void *y) {
  return hx_vec_id_cmp(&((const qd_hit *)x)->id, &((const qd_hit *)y)->id);
}

/* Sorts l by id and merges equal ids, summing their scores. */
static void merge_by_id(qd_list *l) {
  if (!l->n) return;
  qsort(l->h, l->n, sizeof *l->h, cmp_hit_id);
  size_t w = 0;
  for (size_t i = 1; i < l->n; i++) {
    if (!hx_vec_id_cmp(&l->h[w].id, &l->h[i].id)) l->h[w].score += l->h[i].score;
    else l->h[++w] = l->h[i];
  }
  l->n = w + 1;
}

static int fuse(qd_ctx *x, qd_list *lists, size_t nl, int dbsf, double k, qd_list *out, hx_err *err) {
  size_t total = 0;
  for (size_t i = 0; i < nl; i++) total += lists[i].n;
  out->h = hx__qd_alloc(&x->a, (total ? total : 1) * sizeof *out->h);
  out->n = 0;
  out->small_better = 0;
  if (!out->h) return hx_err_set(err, HX_ENOMEM, "out of memory");
  for (size_t li = 0; li < nl; li++) {
    qd_list *l = &lists[li];
    double mean = 0, agg = 0, lo = 0, hi = 0;
    if (dbsf && l->n >= 2) {
      /* Welford, sample variance (n - 1), as Qdrant */
      for (size_t i = 0; i < l->n; i++) {
        double d0 = l->h[i].score - mean;
        mean += d0 / (double)(i + 1);
        agg += d0 * (l->h[i].score - mean);
      }
      double sd = sqrt(agg / (double)(l->n - 1));
      lo = mean - 3 * sd;
      hi = mean + 3 * sd;
    }
    for (size_t i = 0; i < l->n; i++) {
      double s;
      if (!dbsf) {
        s = 1.0 / ((double)i + k);
      } else if (l->n < 2 || hi == lo) {
        s = 0.5;
      } else {
        s = (l->h[i].score - lo) / (hi - lo);
        if (l->small_better) s = 1.0 - s;
      }
      out->h[out->n].id = l->h[i].id;
      out->h[out->n++].score = (float)s;
    }
  }
  merge_by_id(out);
  qsort(out->h, out->n, sizeof *out->h, cmp_hit_desc);
  return 0;
}

/* ---- nodes ---- */

static int run_node(qd_ctx *x, const json_t *node, const json_t *outer_filter, size_t limit, int depth,
                    qd_list *out, hx_err *err);

static int scroll_ids(qd_ctx *x, const json_t *filter, size_t limit, qd_list *out, hx_err *err) {
  hx_vec_filter *f = NULL;
  hx_vec_record *recs = NULL;
  size_t n = 0;
  int has_next = 0;
  hx_vec_id next;
  int rc = hx__qd_parse_filter(filter, &f, err);
  if (!rc) rc = hx_vec_scroll(x->db, x->c->name, HX_QDRANT_TENANT, NULL, limit, f, 0, &recs, &n, &has_next, &next, err);
  if (!rc) {
    out->h = hx__qd_alloc(&x->a, (n ? n : 1) * sizeof *out->h);
    if (!out->h) rc = hx_err_set(err, HX_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) out->h[i].id = recs[i].id;
    out->n = rc ? 0 : n;
  }
  hx_vec_records_release(recs, n);
  free(recs);
  hx_vec_filter_free(f);
  return rc;
}

/* The stored dense vector `using` of point id, as a query. */
static int vector_of_point(qd_ctx *x, const json_t *jid, const char *using, hx_vec_query *q, hx_vec_id *id,
                           hx_err *err) {
  if (hx_vec_id_from_json(jid, id, NULL)) return hx__qd_bad(err, "query: expected a vector or a point id");
  int vi = hx__qd_dense_index(x->c, using);
  if (vi < 0)
    return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: a point id as query needs a dense vector in `using`");
  hx_vec_record r = {0};
  hx_err e2 = {0};
  int rc = hx_vec_get(x->db, x->c->name, HX_QDRANT_TENANT, id, HX_VEC_WITH_VECTORS, &r, &e2);
  if (rc == HX_ENOENT) {
    char b[37];
    hx_vec_id_format(id, b);
    return hx_err_setst(err, HX_ENOENT, 404, "Not found: No point with id %s found", b);
  }
  if (rc) return hx_err_set(err, rc, "%s", e2.msg);
  if ((size_t)vi >= r.nvec || !r.vectors[vi]) {
    hx_vec_record_release(&r);
    return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: the point has no vector `%s`", using);
  }
  float *v = hx__qd_alloc(&x->a, r.dims[vi] * sizeof *v);
  if (!v) {
    hx_vec_record_release(&r);
    return hx_err_set(err, HX_ENOMEM, "out of memory");
  }
  memcpy(v, r.vectors[vi], r.dims[vi] * sizeof *v);
  q->v = v;
  q->dim = r.dims[vi];
  hx_vec_record_release(&r);
  return 0;
}

static int parse_params(const json_t *p, hx_vec_query *q, hx_err *err) {
  if (!p || json_is_null(p)) return 0;
  if (!json_is_object(p)) return hx__qd_bad(err, "params: expected an object");
  uint64_t ef;
  int exact, rc;
  if ((rc = hx__qd_get_uint(p, "hnsw_ef", 0, 1000000, &ef, err))) return rc;
  if ((rc = hx__qd_get_bool(p, "exact", 0, &exact, err))) return rc;
  q->ef = (uint32_t)ef;
  q->exact = exact;
  const json_t *qp = json_object_get(p, "quantization");
  if (qp && !json_is_null(qp)) {
    if (!json_is_object(qp)) return hx__qd_bad(err, "params.quantization: expected an object");
    int ign, rescore;
    if ((rc = hx__qd_get_bool(qp, "ignore", 0, &ign, err))) return rc;
    if ((rc = hx__qd_get_bool(qp, "rescore", 1, &rescore, err))) return rc;
    q->ignore_quant = ign;
    const json_t *os = json_object_get(qp, "oversampling");
    if (os && !json_is_null(os)) {
      if (!json_is_number(os) || json_number_value(os) < 1 || json_number_value(os) > 100)
        return hx__qd_bad(err, "params.quantization.oversampling: expected a number >= 1");
      q->oversampling = (float)json_number_value(os);
    }
  }
  return 0;
}

static int nearest(qd_ctx *x, const json_t *node, const json_t *vin, const json_t *filter, qd_list *cands,
                   size_t limit, qd_list *out, hx_err *err) {
  hx_vec_query q = {0};
  const json_t *ju = json_object_get(node, "using");
  if (ju && !json_is_null(ju) && !json_is_string(ju)) return hx__qd_bad(err, "using: expected a string");
  const char *using = json_is_string(ju) ? json_string_value(ju) : "";
  int rc;
  json_t *excl = NULL, *combined = NULL, *withc = NULL;
  hx_vec_filter *f = NULL;
  hx_vec_hit *hits = NULL;
  size_t nh = 0;
  if (json_is_integer(vin) || json_is_string(vin)) {
    hx_vec_id id;
    if ((rc = vector_of_point(x, vin, using, &q, &id, err))) return rc;
    excl = json_pack("{s:[{s:[o]}]}", "must_not", "has_id", hx_vec_id_to_json(&id));
  } else if ((rc = hx__qd_parse_vector_input(vin, "query", &x->a, &q, err))) {
    return rc;
  }
  /* from here on excl is owned: errors leave through done */
  if (q.sp_idx) {
    if (hx__qd_sparse_index(x->c, using) < 0) {
      rc = hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: Not existing vector name error: %s%s", using,
                        *using ? "" : "(a sparse query needs `using` naming a sparse vector)");
      goto done;
    }
  } else {
    int vi = hx__qd_dense_index(x->c, using);
    if (vi < 0) {
      rc = hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: Not existing vector name error: %s", using);
      goto done;
    }
    if (q.dim != x->c->dim[vi]) {
      rc = hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: Vector dimension error: expected dim: %u, got %u",
                        x->c->dim[vi], q.dim);
      goto done;
    }
    out->small_better = x->c->euclid[vi];
  }
  q.vector = using;
  q.limit = limit;
  if ((rc = parse_params(json_object_get(node, "params"), &q, err))) goto done;
  const json_t *st = json_object_get(node, "score_threshold");
  if (st && !json_is_null(st)) {
    if (!json_is_number(st)) {
      rc = hx__qd_bad(err, "score_threshold: expected a number");
      goto done;
    }
    q.has_threshold = 1;
    q.score_threshold = (float)json_number_value(st);
  }
  if (cands) withc = json_pack("{s:[{s:o}]}", "must", "has_id", ids_json(cands));
  json_t *tmp = and_filters(filter, excl);
  combined = and_filters(tmp, withc);
  json_decref(tmp);
  if (cands && cands->n == 0) {
    out->n = 0;
    out->h = NULL;
    goto done;
  }
  if ((rc = hx__qd_parse_filter(combined, &f, err))) goto done;
  q.filter = f;
  hits = calloc(limit ? limit : 1, sizeof *hits);
  if (!hits) {
    rc = hx_err_set(err, HX_ENOMEM, "out of memory");
    goto done;
  }
  hx_err e2 = {0};
  if (limit && (rc = hx_vec_search(x->db, x->c->name, HX_QDRANT_TENANT, &q, hits, &nh, &e2))) {
    rc = rc == HX_EINVAL ? hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: %s", e2.msg) : hx_err_set(err, rc, "%s", e2.msg);
    goto done;
  }
  out->h = hx__qd_alloc(&x->a, (nh ? nh : 1) * sizeof *out->h);
  if (!out->h) {
    rc = hx_err_set(err, HX_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < nh; i++) {
    out->h[i].id = hits[i].id;
    out->h[i].score = hits[i].score;
  }
  out->n = nh;
done:
  hx_vec_hits_release(hits, nh);
  free(hits);
  hx_vec_filter_free(f);
  json_decref(excl);
  json_decref(withc);
  json_decref(combined);
  return rc;
}

/* fusion: "rrf" | "dbsf" as {"fusion": ...}, or {"rrf": {"k": ...}} */
static int fusion_of(const json_t *q, int *is_fusion, int *dbsf, double *k, hx_err *err) {
  *is_fusion = 0;
  *k = DEFAULT_RRF_K;
  if (!json_is_object(q)) return 0;
  const json_t *fu = json_object_get(q, "fusion"), *rrf = json_object_get(q, "rrf");
  if (fu) {
    const char *s = json_string_value(fu);
    if (!s || (strcmp(s, "rrf") && strcmp(s, "dbsf")))
      return hx__qd_bad(err, "query.fusion: unknown variant, expected `rrf` or `dbsf`");
    *is_fusion = 1;
    *dbsf = !strcmp(s, "dbsf");
    return 0;
  }
  if (rrf) {
    if (!json_is_object(rrf)) return hx__qd_bad(err, "query.rrf: expected an object");
    uint64_t kk;
    int rc = hx__qd_get_uint(rrf, "k", DEFAULT_RRF_K, 1000000, &kk, err);
    if (rc) return rc;
    if (kk == 0) return hx__qd_bad(err, "query.rrf.k: must be at least 1");
    const json_t *w = json_object_get(rrf, "weights");
    if (w && !json_is_null(w))
      return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: query.rrf.weights are not supported");
    *is_fusion = 1;
    *dbsf = 0;
    *k = (double)kk;
  }
  return 0;
}

static int run_node(qd_ctx *x, const json_t *node, const json_t *outer_filter, size_t limit, int depth,
                    qd_list *out, hx_err *err) {
  memset(out, 0, sizeof *out);
  if (depth > MAX_DEPTH) return hx__qd_bad(err, "prefetch: nested deeper than %d", MAX_DEPTH);
  if (!json_is_object(node)) return hx__qd_bad(err, "prefetch: expected an object");
  const json_t *lf = json_object_get(node, "lookup_from");
  if (lf && !json_is_null(lf)) return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: lookup_from is not supported");
  const json_t *jf = json_object_get(node, "filter");
  hx_vec_filter *check = NULL;
  int rc = hx__qd_parse_filter(jf, &check, err);   /* reject a bad filter early, with its path */
  hx_vec_filter_free(check);
  if (rc) return rc;
  json_t *filter = and_filters(outer_filter, jf);
  const json_t *pf = json_object_get(node, "prefetch");
  size_t np = 0;
  qd_list *lists = NULL;
  if (pf && !json_is_null(pf)) {
    np = json_is_array(pf) ? json_array_size(pf) : 1;
    if (np > 64) {
      rc = hx__qd_bad(err, "prefetch: at most 64");
      goto out;
    }
    lists = hx__qd_alloc(&x->a, (np ? np : 1) * sizeof *lists);
    if (!lists) {
      rc = hx_err_set(err, HX_ENOMEM, "out of memory");
      goto out;
    }
    for (size_t i = 0; i < np; i++) {
      const json_t *p = json_is_array(pf) ? json_array_get(pf, i) : pf;
      uint64_t pl;
      if ((rc = hx__qd_get_uint(p, "limit", 10, HX__QD_MAX_LIMIT, &pl, err))) goto out;
      if ((rc = run_node(x, p, filter, (size_t)pl, depth + 1, &lists[i], err))) goto out;
    }
  }
  const json_t *q = json_object_get(node, "query");
  int is_fusion = 0, dbsf = 0;
  double k;
  if ((rc = fusion_of(q, &is_fusion, &dbsf, &k, err))) goto out;
  if (!q || json_is_null(q)) {
    if (np > 1) {
      rc = hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: a query is needed to combine several prefetches");
    } else if (np == 1) {
      *out = lists[0];
      if (out->n > limit) out->n = limit;
    } else {
      rc = scroll_ids(x, filter, limit, out, err);
    }
  } else if (is_fusion) {
    if (np == 0) {
      rc = hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: fusion needs prefetches");
      goto out;
    }
    if ((rc = fuse(x, lists, np, dbsf, k, out, err))) goto out;
    const json_t *st = json_object_get(node, "score_threshold");
    if (st && json_is_number(st)) {
      size_t keep = 0;
      while (keep < out->n && out->h[keep].score >= json_number_value(st)) keep++;
      out->n = keep;
    }
    if (out->n > limit) out->n = limit;
  } else {
    const json_t *vin = q;
    if (json_is_object(q) && json_object_get(q, "nearest")) {
      vin = json_object_get(q, "nearest");
    } else if (json_is_object(q) && !json_object_get(q, "indices")) {
      const char *kind = json_object_iter_key(json_object_iter((json_t *)q));
      rc = hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: query `%s` is not supported (nearest, fusion and rrf are)",
                        kind ? kind : "");
      goto out;
    }
    /* with prefetches, nearest re-scores their union */
    qd_list cand = {0};
    if (np) {
      size_t total = 0;
      for (size_t i = 0; i < np; i++) total += lists[i].n;
      cand.h = hx__qd_alloc(&x->a, (total ? total : 1) * sizeof *cand.h);
      if (!cand.h) {
        rc = hx_err_set(err, HX_ENOMEM, "out of memory");
        goto out;
      }
      for (size_t i = 0; i < np; i++)
        for (size_t j = 0; j < lists[i].n; j++) cand.h[cand.n++] = lists[i].h[j];
      merge_by_id(&cand);
    }
    rc = nearest(x, node, vin, filter, np ? &cand : NULL, limit, out, err);
  }
out:
  json_decref(filter);
  return rc;
}

int hx__qd_query(hx_vec *db, const hx__qd_coll *c, const json_t *req, json_t **points, hx_err *err) {
  qd_ctx x = {.db = db, .c = c};
  qd_list res = {0};
  hx__qd_sel sel;
  uint64_t limit, offset;
  int rc;
  *points = NULL;
  if (!json_is_object(req)) return hx__qd_bad(err, "expected an object");
  if ((rc = hx__qd_parse_sel(req, 0, &sel, err))) return rc;
  if ((rc = hx__qd_get_uint(req, "limit", 10, HX__QD_MAX_LIMIT, &limit, err))) return rc;
  if ((rc = hx__qd_get_uint(req, "offset", 0, HX__QD_MAX_LIMIT, &offset, err))) return rc;
  if ((rc = run_node(&x, req, NULL, (size_t)(limit + offset), 0, &res, err))) goto out;
  json_t *arr = json_array();
  for (size_t i = (size_t)offset; i < res.n; i++) {
    hx_vec_record r = {0};
    hx_err e2 = {0};
    int g = hx_vec_get(db, c->name, HX_QDRANT_TENANT, &res.h[i].id, hx__qd_sel_flags(&sel), &r, &e2);
    if (g == HX_ENOENT) continue;   /* deleted since it was found */
    if (g) {
      json_decref(arr);
      rc = hx_err_set(err, g, "%s", e2.msg);
      goto out;
    }
    json_t *sp = json_pack("{s:o,s:I,s:f}", "id", hx_vec_id_to_json(&r.id), "version", (json_int_t)r.version, "score",
                           (double)res.h[i].score);
    hx__qd_put_selected(sp, c, &r, &sel);
    hx_vec_record_release(&r);
    json_array_append_new(arr, sp);
  }
  *points = arr;
out:
  hx__qd_arena_release(&x.a);
  return rc;
}
