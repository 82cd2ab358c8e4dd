/*
 * pindex.c - payload indexes of a tenant shard and the planner's cardinality
 * estimate.
 *
 * Why it exists: a selective filter should cost work proportional to the
 * points it matches, not to the tenant. Keyword, integer, bool and uuid indexes
 * map each scalar value (type-tagged: "s:red", "i:7", "b:1") to the live slots
 * holding it; integer and float indexes also keep a sorted (value, slot) array
 * for ranges, rebuilt lazily from the payloads after writes. An index only ever
 * proposes candidates: every candidate is still checked against the full filter,
 * so an index can make a query faster but never change its answer.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vec/vec_int.h"

#define MAXV 256

hx__pidx *hx__pidx_new(void) {
  hx__pidx *p = calloc(1, sizeof *p);
  if (p) {
    pthread_mutex_init(&p->mu, NULL);
    p->dirty = 1;
  }
  return p;
}

void hx__pidx_free(hx__pidx *p) {
  if (!p) return;
  HX__SMAP_EACH(&p->exact, e) {
    hx__vlist *v = e->val;
    free(v->v.v);
    free(v);
  }
  hx__smap_release(&p->exact);
  free(p->rv);
  free(p->rt);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

static int has_exact(hx_vec_index_type t) { return t != HX_VEC_INDEX_FLOAT; }
static int has_range(hx_vec_index_type t) { return t == HX_VEC_INDEX_INTEGER || t == HX_VEC_INDEX_FLOAT; }

/* Does payload hold the value whose index key is key? */
static int has_value(const hx__index_def *def, const json_t *payload, const char *key, size_t kl) {
  const json_t *vals[MAXV];
  int hn;
  char k2[1024];
  size_t n = hx__payload_values(payload, def->path, def->npath, vals, MAXV, &hn);
  for (size_t i = 0; i < n && i < MAXV; i++)
    if (hx__value_key(vals[i], k2, sizeof k2) == kl && !memcmp(k2, key, kl)) return 1;
  return 0;
}

static int cmp_u32(const void *a, const void *b);

/* Drops entries that are dead, being removed, or no longer hold the value. */
static void vlist_filter(const hx__index_def *def, hx__vlist *l, const hx__shard *s, uint32_t removing,
                         const char *key, size_t kl) {
  hx__sort_u32(l->v.v, l->v.n);
  uint32_t m = 0;
  for (uint32_t i = 0; i < l->v.n; i++) {
    uint32_t sl = l->v.v[i];
    if (sl == removing || sl >= s->n || s->dead[sl] || (m && l->v.v[m - 1] == sl)) continue;
    if (has_value(def, s->payload[sl], key, kl)) l->v.v[m++] = sl;
  }
  l->v.n = m;
  l->stale = 0;
}

/* Adds (add = 1) or removes the slot under every scalar value of the key. */
static void pidx_update(const hx__index_def *def, hx__pidx *p, const hx__shard *s, const json_t *payload,
                        uint32_t slot, int add) {
  const json_t *vals[MAXV];
  int hn;
  char key[1024];
  size_t n = hx__payload_values(payload, def->path, def->npath, vals, MAXV, &hn);
  if (n > MAXV) n = MAXV;
  for (size_t i = 0; has_range(def->type) && !p->dirty && i < n; i++) {
    if (!json_is_number(vals[i])) continue;
    if (!add) {
      if (++p->rstale > 64 && p->rstale * 2 > p->nrv + p->nrt) p->dirty = 1;
      continue;
    }
    if (p->nrt == p->caprt) {
      size_t nc = p->caprt ? p->caprt * 2 : 64;
      hx__rentry *q = realloc(p->rt, nc * sizeof *q);
      if (!q) {
        p->dirty = 1;
        break;
      }
      p->rt = q;
      p->caprt = nc;
    }
    p->rt[p->nrt++] = (hx__rentry){json_number_value(vals[i]), slot};
  }
  if (!has_exact(def->type)) return;
  for (size_t i = 0; i < n; i++) {
    size_t kl = hx__value_key(vals[i], key, sizeof key);
    if (!kl) continue;
    hx__vlist *l = hx__smap_get(&p->exact, key, kl);
    if (!add) {
      if (l && ++l->stale > 32 && l->stale * 2 > l->v.n) vlist_filter(def, l, s, slot, key, kl);
      continue;
    }
    if (!l) {
      l = calloc(1, sizeof *l);
      if (!l || hx__smap_put(&p->exact, key, kl, l)) {
        free(l);
        continue;
      }
    }
    hx__u32v_push(&l->v, slot);
  }
}

void hx__pidx_add(const hx__index_def *def, hx__pidx *p, const json_t *payload, uint32_t slot) {
  pidx_update(def, p, NULL, payload, slot, 1);
}

void hx__pidx_remove(const hx__index_def *def, hx__pidx *p, const hx__shard *s, const json_t *payload,
                     uint32_t slot) {
  pidx_update(def, p, s, payload, slot, 0);
}

static int cmp_rentry(const void *a, const void *b) {
  double x = ((const hx__rentry *)a)->v, y = ((const hx__rentry *)b)->v;
  return x < y ? -1 : x > y;
}

/* Brings the sorted range array up to date (caller holds p->mu): a full
 * rebuild from the payloads when dirty, else a merge of the pending additions. */
static void range_refresh(const hx__index_def *def, hx__pidx *p, const hx__shard *s) {
  if (!p->dirty) {
    if (!p->nrt) return;
    qsort(p->rt, p->nrt, sizeof *p->rt, cmp_rentry);
    if (p->nrv + p->nrt > p->caprv) {
      size_t nc = p->caprv ? p->caprv : 64;
      while (nc < p->nrv + p->nrt) nc *= 2;
      hx__rentry *q = realloc(p->rv, nc * sizeof *q);
      if (!q) {
        p->dirty = 1;
        return;
      }
      p->rv = q;
      p->caprv = nc;
    }
    size_t i = p->nrv, j = p->nrt, k = p->nrv + p->nrt; /* merge from the back */
    while (j > 0) {
      if (i > 0 && p->rv[i - 1].v > p->rt[j - 1].v) p->rv[--k] = p->rv[--i];
      else p->rv[--k] = p->rt[--j];
    }
    p->nrv += p->nrt;
    p->nrt = 0;
    return;
  }
  const json_t *vals[MAXV];
  int hn;
  p->nrv = 0;
  p->nrt = 0;
  p->rstale = 0;
  for (uint32_t sl = 0; sl < s->n; sl++) {
    if (s->dead[sl]) continue;
    size_t n = hx__payload_values(s->payload[sl], def->path, def->npath, vals, MAXV, &hn);
    if (n > MAXV) n = MAXV;
    for (size_t i = 0; i < n; i++) {
      if (!json_is_number(vals[i])) continue;
      if (p->nrv == p->caprv) {
        size_t nc = p->caprv ? p->caprv * 2 : 64;
        hx__rentry *q = realloc(p->rv, nc * sizeof *q);
        if (!q) return; /* stays dirty: estimate falls back to a scan */
        p->rv = q;
        p->caprv = nc;
      }
      p->rv[p->nrv++] = (hx__rentry){json_number_value(vals[i]), sl};
    }
  }
  qsort(p->rv, p->nrv, sizeof *p->rv, cmp_rentry);
  p->dirty = 0;
}

static int path_eq(char *const *a, size_t na, char *const *b, size_t nb) {
  if (na != nb) return 0;
  for (size_t i = 0; i < na; i++)
    if (strcmp(a[i], b[i])) return 0;
  return 1;
}

static int find_index(const hx__coll *c, const hx__cond *cd, int want_range) {
  for (uint32_t i = 0; i < c->nidx; i++) {
    if (!path_eq(c->idx[i].path, c->idx[i].npath, cd->path, cd->npath)) continue;
    if (want_range ? has_range(c->idx[i].type) : has_exact(c->idx[i].type)) return (int)i;
  }
  return -1;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static size_t uniq(uint32_t *v, size_t n) {
  hx__sort_u32(v, n);
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (!m || v[m - 1] != v[i]) v[m++] = v[i];
  return m;
}

static size_t est_filter(const hx__coll *c, hx__shard *s, const hx_vec_filter *f, uint32_t **cand,
                         size_t *ncand, int *exact);

/* Estimate of one condition; *cand = malloc'd superset of matches, or NULL;
 * *exact = 1 if *cand is exactly the matching live slots. */
static size_t est_cond(const hx__coll *c, hx__shard *s, const hx__cond *cd, uint32_t **cand, size_t *ncand,
                       int *exact) {
  *cand = NULL;
  *ncand = 0;
  *exact = 0;
  size_t none = s->nlive;
  switch (cd->kind) {
  case HX__C_HAS_ID: {
    uint32_t *v = malloc((cd->nids + 1) * sizeof *v);
    if (!v) return none;
    size_t m = 0;
    for (size_t i = 0; i < cd->nids; i++) {
      uint32_t sl = hx__shard_find(s, &cd->ids[i]);
      if (sl != UINT32_MAX) v[m++] = sl;
    }
    *cand = v;
    *ncand = uniq(v, m);
    *exact = 1;
    return *ncand;
  }
  case HX__C_FILTER:
    return est_filter(c, s, cd->sub, cand, ncand, exact);
  case HX__C_MATCH_VALUE:
  case HX__C_MATCH_ANY: {
    int ix = find_index(c, cd, 0);
    if (ix < 0) return none;
    hx__pidx *p = s->pi[ix];
    char key[1024];
    size_t total = 0, i;
    const json_t *v;
    int clean = 1; /* no stale entries: every listed slot holds the value */
    json_array_foreach(cd->vals, i, v) {
      size_t kl = hx__value_key(v, key, sizeof key);
      hx__vlist *l = kl ? hx__smap_get(&p->exact, key, kl) : NULL;
      if (l) total += l->v.n;
      if (l && l->stale) clean = 0;
    }
    uint32_t *out = malloc((total + 1) * sizeof *out);
    if (!out) return none;
    size_t m = 0;
    json_array_foreach(cd->vals, i, v) {
      size_t kl = hx__value_key(v, key, sizeof key);
      hx__vlist *l = kl ? hx__smap_get(&p->exact, key, kl) : NULL;
      if (l) {
        memcpy(out + m, l->v.v, (size_t)l->v.n * sizeof *out);
        m += l->v.n;
      }
    }
    size_t live = 0;
    for (size_t k = 0; k < m; k++) /* stale entries may name dead slots */
      if (!s->dead[out[k]]) out[live++] = out[k];
    *cand = out;
    *ncand = uniq(out, live);
    *exact = clean;
    return *ncand;
  }
  case HX__C_RANGE: {
    int ix = find_index(c, cd, 1);
    if (ix < 0) return none;
    hx__pidx *p = s->pi[ix];
    pthread_mutex_lock(&p->mu);
    range_refresh(&c->idx[ix], p, s);
    if (p->dirty) {
      pthread_mutex_unlock(&p->mu);
      return none;
    }
    /* exact bounds: strict for gt/lt, inclusive for gte/lte (the tighter wins) */
    double lo = -INFINITY, hi = INFINITY;
    int lo_strict = 0, hi_strict = 0;
    if (cd->has_gte) lo = cd->gte;
    if (cd->has_gt && (!cd->has_gte || cd->gt >= cd->gte)) lo = cd->gt, lo_strict = 1;
    if (cd->has_lte) hi = cd->lte;
    if (cd->has_lt && (!cd->has_lte || cd->lt <= cd->lte)) hi = cd->lt, hi_strict = 1;
    size_t a = 0, b = p->nrv;
    while (a < b) { /* first entry inside the lower bound */
      size_t mid = (a + b) / 2;
      if (lo_strict ? p->rv[mid].v <= lo : p->rv[mid].v < lo) a = mid + 1;
      else b = mid;
    }
    size_t first = a;
    b = p->nrv;
    while (a < b) { /* first entry past the upper bound */
      size_t mid = (a + b) / 2;
      if (hi_strict ? p->rv[mid].v < hi : p->rv[mid].v <= hi) a = mid + 1;
      else b = mid;
    }
    size_t m = 0;
    uint32_t *out = malloc((a - first + 1) * sizeof *out);
    if (out)
      for (size_t i = first; i < a; i++)
        if (!s->dead[p->rv[i].slot]) out[m++] = p->rv[i].slot;
    int clean = p->rstale == 0;
    pthread_mutex_unlock(&p->mu);
    if (!out) return none;
    *cand = out;
    *ncand = uniq(out, m);
    *exact = clean;
    return *ncand;
  }
  default:
    return none;
  }
}

static size_t est_filter(const hx__coll *c, hx__shard *s, const hx_vec_filter *f, uint32_t **cand,
                         size_t *ncand, int *exact) {
  size_t best = s->nlive;
  int ex = 0, all_exact = 1;
  *cand = NULL;
  *ncand = 0;
  *exact = 0;
  for (size_t i = 0; i < f->nmust; i++) {
    uint32_t *cc;
    size_t nc;
    size_t e = est_cond(c, s, &f->must[i], &cc, &nc, &ex);
    if (cc && (e < best || !*cand)) {
      free(*cand);
      *cand = cc;
      *ncand = nc;
      best = e;
      *exact = ex;
    } else {
      free(cc);
    }
  }
  /* the candidates are the answer only if nothing else constrains it */
  int alone = f->nmust == 1 && !f->nshould && !f->nmust_not && !f->min_count;
  if (f->nshould) { /* a union, usable only if every branch is indexed */
    uint32_t *u = NULL;
    size_t nu = 0, total = 0;
    int ok = 1;
    for (size_t i = 0; i < f->nshould && ok; i++) {
      uint32_t *cc;
      size_t nc;
      est_cond(c, s, &f->should[i], &cc, &nc, &ex);
      all_exact &= ex;
      if (!cc) {
        ok = 0;
        break;
      }
      uint32_t *nu2 = realloc(u, (nu + nc + 1) * sizeof *u);
      if (!nu2) {
        free(cc);
        ok = 0;
        break;
      }
      u = nu2;
      memcpy(u + nu, cc, nc * sizeof *u);
      nu += nc;
      total += nc;
      free(cc);
    }
    if (ok && u) {
      nu = uniq(u, nu);
      if (nu < best || !*cand) {
        free(*cand);
        *cand = u;
        *ncand = nu;
        best = nu;
        u = NULL;
        alone = !f->nmust && !f->nmust_not && !f->min_count;
        *exact = all_exact;
      }
    }
    free(u);
    (void)total;
  }
  if (!alone) *exact = 0;
  return best;
}

size_t hx__pidx_estimate(const hx__coll *c, hx__shard *s, const hx_vec_filter *f, uint32_t **cand,
                         size_t *ncand, int *exact) {
  return est_filter(c, s, f, cand, ncand, exact);
}

int hx__pidx_check(const hx__coll *c, hx__shard *s, hx_err *err) {
  const json_t *vals[MAXV];
  int hn;
  char key[1024];
  for (uint32_t ix = 0; ix < c->nidx && ix < s->npi; ix++) {
    const hx__index_def *def = &c->idx[ix];
    hx__pidx *p = s->pi[ix];
    if (!has_exact(def->type)) continue;
    /* order within a list carries no meaning: sort them to check in O(n log n) */
    HX__SMAP_EACH(&p->exact, e) {
      hx__vlist *l = e->val;
      qsort(l->v.v, l->v.n, sizeof *l->v.v, cmp_u32);
    }
    for (uint32_t sl = 0; sl < s->n; sl++) { /* every live value is listed */
      if (s->dead[sl]) continue;
      size_t n = hx__payload_values(s->payload[sl], def->path, def->npath, vals, MAXV, &hn);
      if (n > MAXV) n = MAXV;
      for (size_t i = 0; i < n; i++) {
        size_t kl = hx__value_key(vals[i], key, sizeof key);
        if (!kl) continue;
        hx__vlist *l = hx__smap_get(&p->exact, key, kl);
        if (!l || !bsearch(&sl, l->v.v, l->v.n, sizeof sl, cmp_u32))
          return hx_err_set(err, HX_ECORRUPT, "index '%s': slot %u value %.*s not indexed", def->key, sl,
                            (int)kl, key);
      }
    }
    HX__SMAP_EACH(&p->exact, e) { /* and nothing else, beyond the counted stale entries */
      hx__vlist *l = e->val;
      uint32_t bad = 0;
      for (uint32_t j = 0; j < l->v.n; j++) {
        uint32_t sl = l->v.v[j];
        if (sl >= s->n) return hx_err_set(err, HX_ECORRUPT, "index '%s': slot %u out of range", def->key, sl);
        int dup = j && l->v.v[j - 1] == sl;
        bad += dup || s->dead[sl] || !has_value(def, s->payload[sl], e->key, e->klen);
      }
      if (bad > l->stale)
        return hx_err_set(err, HX_ECORRUPT, "index '%s': value %s has %u stale entries, %u counted", def->key,
                          e->key, bad, l->stale);
    }
  }
  return 0;
}
