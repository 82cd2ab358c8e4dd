/*
 * rank.c - fusion of the dense and sparse lists (RRF, DBSF) and MMR
 * re-ranking, on plain candidate arrays so they are tested on their own.
 * Formulas and their relation to Qdrant's are in search.h.
 */
#include "search/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_cand(const void *a, const void *b) {
  const hx_search_cand *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return memcmp(x->id.b, y->id.b, 16);
}

void hx_search_sort(hx_search_cand *c, size_t n) {
  if (n > 1) qsort(c, n, sizeof *c, cmp_cand);
}

/* mean - 3 sd and the width 6 sd of one list's scores (sample sd). */
static void dbsf_bounds(const hx_search_cand *c, size_t n, int sparse, double *lo, double *width) {
  double sum = 0, ss = 0;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (!(sparse ? c[i].sparse_rank : c[i].dense_rank)) continue;
    sum += sparse ? c[i].sparse_score : c[i].dense_score;
    m++;
  }
  double mean = m ? sum / (double)m : 0;
  for (size_t i = 0; i < n; i++) {
    if (!(sparse ? c[i].sparse_rank : c[i].dense_rank)) continue;
    double d = (sparse ? c[i].sparse_score : c[i].dense_score) - mean;
    ss += d * d;
  }
  double sd = m > 1 ? sqrt(ss / (double)(m - 1)) : 0;
  *lo = mean - 3 * sd;
  *width = 6 * sd;
}

void hx_search_fuse(hx_search_cand *c, size_t n, hx_search_fusion f, int rrf_k, double w_dense, double w_sparse) {
  double dlo = 0, dw = 0, slo = 0, sw = 0;
  if (f == HX_FUSION_DBSF) {
    dbsf_bounds(c, n, 0, &dlo, &dw);
    dbsf_bounds(c, n, 1, &slo, &sw);
  }
  for (size_t i = 0; i < n; i++) {
    double s = 0;
    if (f == HX_FUSION_RRF) {
      if (c[i].dense_rank) s += w_dense / (rrf_k + c[i].dense_rank);
      if (c[i].sparse_rank) s += w_sparse / (rrf_k + c[i].sparse_rank);
    } else {
      if (c[i].dense_rank) s += w_dense * (dw > 0 ? (c[i].dense_score - dlo) / dw : 0.5);
      if (c[i].sparse_rank) s += w_sparse * (sw > 0 ? (c[i].sparse_score - slo) / sw : 0.5);
    }
    c[i].score = s;
  }
  hx_search_sort(c, n);
}

static double dot(const float *a, const float *b, int dim) {
  double s = 0;
  for (int i = 0; i < dim; i++) s += (double)a[i] * b[i];
  return s;
}

/* Unit vectors already (the store keeps Cosine vectors normalised); made sure here. */
static void normalise(hx_search_cand *c) {
  double nn = c->vec ? dot(c->vec, c->vec, c->dim) : 0;
  if (nn <= 0 || fabs(nn - 1) < 1e-6) return;
  float inv = (float)(1 / sqrt(nn));
  for (int i = 0; i < c->dim; i++) c->vec[i] *= inv;
}

static double cosine(const hx_search_cand *a, const hx_search_cand *b) {
  if (!a->vec || !b->vec || a->dim != b->dim) return 0;   /* no vector: dissimilar to everything */
  return dot(a->vec, b->vec, a->dim);
}

int hx_search_mmr(hx_search_cand *c, size_t n, size_t k, float lambda) {
  if (k > n) k = n;
  if (k == 0) return 0;
  double *maxsim = malloc(n * sizeof *maxsim), lo = INFINITY, hi = -INFINITY;
  if (!maxsim) return HX_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    maxsim[i] = 0;   /* nothing picked yet: no penalty */
    normalise(&c[i]);
    if (c[i].score < lo) lo = c[i].score;
    if (c[i].score > hi) hi = c[i].score;
  }
  double span = hi > lo ? hi - lo : 1;
  for (size_t j = 0; j < k; j++) {
    /* c[0..j) are picked; choose the best of c[j..n) (first one on ties: the relevance order) */
    size_t best = j;
    double bv = -INFINITY;
    for (size_t i = j; i < n; i++) {
      double rel = hi > lo ? (c[i].score - lo) / span : 1;
      double v = lambda * rel - (1 - lambda) * maxsim[i];
      if (v > bv) bv = v, best = i;
    }
    if (best != j) {
      /* keep the rest in relevance order: rotate c[j..best] right by one */
      hx_search_cand t = c[best];
      double ms = maxsim[best];
      memmove(&c[j + 1], &c[j], (best - j) * sizeof *c);
      memmove(&maxsim[j + 1], &maxsim[j], (best - j) * sizeof *maxsim);
      c[j] = t;
      maxsim[j] = ms;
    }
    c[j].mmr_penalty = (1 - lambda) * maxsim[j];
    for (size_t i = j + 1; i < n; i++) {
      double s = cosine(&c[i], &c[j]);
      if (s > maxsim[i]) maxsim[i] = s;
    }
  }
  free(maxsim);
  return 0;
}

void hx_search_cands_release(hx_search_cand *c, size_t n) {
  for (size_t i = 0; c && i < n; i++) {
    json_decref(c[i].payload);
    free(c[i].vec);
    c[i].payload = NULL;
    c[i].vec = NULL;
  }
}
