/*
 * sparse.c - sparse vectors of a tenant shard: an inverted index (term → list of
 * (slot, weight)) scored by dot product, with an optional IDF modifier for
 * BM25-style keyword search.
 *
 * IDF is computed at query time from the tenant's own live data, as Qdrant's
 * modifier does: idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5)), N = live
 * points of the tenant that have this sparse vector, df(t) = those containing t.
 * Postings of deleted slots stay until compaction and are skipped at query time;
 * df and N count live points only.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vec/vec_int.h"

void hx__svec_release(hx__svec *v, uint32_t cap) {
  for (uint32_t i = 0; v->idx && i < cap; i++) {
    free(v->idx[i]);
    free(v->val[i]);
  }
  free(v->idx);
  free(v->val);
  free(v->cnt);
  HX__SMAP_EACH(&v->terms, e) {
    hx__plist *p = e->val;
    free(p->p);
    free(p);
  }
  hx__smap_release(&v->terms);
}

int hx__svec_reserve(hx__svec *v, uint32_t oldcap, uint32_t cap) {
  uint32_t **ni = realloc(v->idx, (size_t)cap * sizeof *ni);
  if (!ni) return HX_ENOMEM;
  v->idx = ni;
  float **nv = realloc(v->val, (size_t)cap * sizeof *nv);
  if (!nv) return HX_ENOMEM;
  v->val = nv;
  uint32_t *nc = realloc(v->cnt, (size_t)cap * sizeof *nc);
  if (!nc) return HX_ENOMEM;
  v->cnt = nc;
  for (uint32_t i = oldcap; i < cap; i++) {
    v->idx[i] = NULL;
    v->val[i] = NULL;
    v->cnt[i] = 0;
  }
  return 0;
}

int hx__svec_add(hx__svec *v, uint32_t slot, uint32_t *idx, float *val, uint32_t n) {
  v->idx[slot] = idx;
  v->val[slot] = val;
  v->cnt[slot] = n;
  v->nwith++;
  for (uint32_t i = 0; i < n; i++) {
    hx__plist *p = hx__smap_get(&v->terms, (const char *)&idx[i], 4);
    if (!p) {
      p = calloc(1, sizeof *p);
      if (!p || hx__smap_put(&v->terms, (const char *)&idx[i], 4, p)) {
        free(p);
        return HX_ENOMEM;
      }
    }
    if (p->n == p->cap) {
      uint32_t nc = p->cap ? p->cap * 2 : 4;
      hx__posting *q = realloc(p->p, (size_t)nc * sizeof *q);
      if (!q) return HX_ENOMEM;
      p->p = q;
      p->cap = nc;
    }
    p->p[p->n++] = (hx__posting){slot, val[i]};
    p->df++;
  }
  return 0;
}

void hx__svec_kill(hx__svec *v, uint32_t slot) {
  if (!v->idx || !v->idx[slot]) return;
  for (uint32_t i = 0; i < v->cnt[slot]; i++) {
    hx__plist *p = hx__smap_get(&v->terms, (const char *)&v->idx[slot][i], 4);
    if (p) p->df--;
  }
  v->nwith--;
  free(v->idx[slot]);
  free(v->val[slot]);
  v->idx[slot] = NULL;
  v->val[slot] = NULL;
  v->cnt[slot] = 0;
}

int hx__sparse_search(const hx__coll *c, hx__shard *s, uint32_t vi, const hx_vec_query *q, size_t want,
                      hx__cand *out, size_t *nout, hx_err *err) {
  hx__svec *v = &s->sv[vi];
  int idf = c->sparse[vi].idf;
  float *acc = calloc((size_t)s->n + 1, sizeof *acc);
  uint32_t *touched = NULL;
  size_t nt = 0, capt = 0;
  hx__heap h = {0};
  int rc = 0;
  *nout = 0;
  if (!acc || hx__heap_init(&h, want + 1, 1)) {
    rc = hx_err_set(err, HX_ENOMEM, "out of memory");
    goto out;
  }
  double N = v->nwith;
  for (uint32_t k = 0; k < q->sp_n; k++) {
    hx__plist *p = hx__smap_get(&v->terms, (const char *)&q->sp_idx[k], 4);
    if (!p || !p->df) continue;
    double w = q->sp_val[k];
    if (idf) w *= log(1.0 + (N - p->df + 0.5) / (p->df + 0.5));
    for (uint32_t i = 0; i < p->n; i++) {
      uint32_t sl = p->p[i].slot;
      if (s->dead[sl]) continue;
      if (acc[sl] == 0.0f) {
        if (nt == capt) {
          capt = capt ? capt * 2 : 256;
          uint32_t *nt2 = realloc(touched, capt * sizeof *nt2);
          if (!nt2) {
            rc = hx_err_set(err, HX_ENOMEM, "out of memory");
            goto out;
          }
          touched = nt2;
        }
        touched[nt++] = sl;
      }
      acc[sl] += (float)(w * p->p[i].w);
      if (acc[sl] == 0.0f) acc[sl] = 1e-30f; /* keep "touched" distinguishable */
    }
  }
  for (size_t i = 0; i < nt; i++) {
    uint32_t sl = touched[i];
    if (q->filter && !hx_vec_filter_match(q->filter, &s->ids[sl], s->payload[sl])) continue;
    hx__heap_keep(&h, want, -acc[sl], sl);
  }
  *nout = hx__heap_drain_sorted(&h, out);
out:
  free(acc);
  free(touched);
  hx__heap_release(&h);
  return rc;
}

int hx__svec_check(hx__shard *s, uint32_t vi, hx_err *err) {
  hx__svec *v = &s->sv[vi];
  uint32_t with = 0;
  for (uint32_t sl = 0; sl < s->n; sl++) {
    if (!v->idx[sl]) continue;
    if (s->dead[sl]) return hx_err_set(err, HX_ECORRUPT, "sparse: dead slot %u keeps a vector", sl);
    with++;
    for (uint32_t i = 0; i < v->cnt[sl]; i++) {
      if (i && v->idx[sl][i] <= v->idx[sl][i - 1])
        return hx_err_set(err, HX_ECORRUPT, "sparse: slot %u indices not sorted", sl);
      hx__plist *p = hx__smap_get(&v->terms, (const char *)&v->idx[sl][i], 4);
      int found = 0;
      for (uint32_t j = 0; p && j < p->n && !found; j++) found = p->p[j].slot == sl && p->p[j].w == v->val[sl][i];
      if (!found) return hx_err_set(err, HX_ECORRUPT, "sparse: slot %u term %u not in postings", sl, v->idx[sl][i]);
    }
  }
  if (with != v->nwith) return hx_err_set(err, HX_ECORRUPT, "sparse: %u points with vector, %u recorded", with, v->nwith);
  HX__SMAP_EACH(&v->terms, e) {
    hx__plist *p = e->val;
    uint32_t live = 0;
    for (uint32_t j = 0; j < p->n; j++) live += !s->dead[p->p[j].slot];
    if (live != p->df) return hx_err_set(err, HX_ECORRUPT, "sparse: df %u but %u live postings", p->df, live);
  }
  return 0;
}
