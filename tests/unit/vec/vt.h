/*
 * vt.h - helpers shared by the vector engine's unit tests: a seeded RNG, data
 * generators (uniform, clustered Gaussian), an independent brute-force top-k in
 * double precision (the golden values recall is measured against), and
 * temporary database directories.
 */
#ifndef HX_TEST_VEC_VT_H
#define HX_TEST_VEC_VT_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vec/vec.h"

static uint64_t vt_rng_state = 42;
static inline void vt_seed(uint64_t s) { vt_rng_state = s ? s : 1; }
static inline uint64_t vt_next(void) {
  uint64_t x = vt_rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return vt_rng_state = x;
}
static inline double vt_unif(void) { return (double)(vt_next() >> 11) * (1.0 / 9007199254740992.0); }
static inline double vt_gauss(void) {
  double u = vt_unif() + 1e-300, v = vt_unif();
  return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* n vectors of dim: clusters > 0 → centre + noise around `clusters` centres. */
static inline float *vt_data(size_t n, uint32_t dim, int clusters, int normalise) {
  float *v = malloc(n * dim * sizeof *v);
  float *cent = clusters > 0 ? malloc((size_t)clusters * dim * sizeof *cent) : NULL;
  for (size_t i = 0; cent && i < (size_t)clusters * dim; i++) cent[i] = (float)vt_gauss();
  for (size_t i = 0; i < n; i++) {
    const float *c = cent ? cent + (vt_next() % (uint64_t)clusters) * dim : NULL;
    double ss = 0;
    for (uint32_t j = 0; j < dim; j++) {
      float x = c ? c[j] + (float)vt_gauss() * 0.5f : (float)(vt_unif() * 2 - 1);
      v[i * dim + j] = x;
      ss += (double)x * x;
    }
    if (normalise)
      for (uint32_t j = 0; j < dim; j++) v[i * dim + j] = (float)(v[i * dim + j] / sqrt(ss));
  }
  free(cent);
  return v;
}

/* Higher is better for every metric here (Euclid: negative distance). */
static inline double vt_sim(hx_vec_distance d, const float *a, const float *b, uint32_t dim) {
  double s = 0, na = 0, nb = 0;
  for (uint32_t i = 0; i < dim; i++) {
    if (d == HX_VEC_EUCLID) {
      double t = (double)a[i] - b[i];
      s += t * t;
    } else {
      s += (double)a[i] * b[i];
      na += (double)a[i] * a[i];
      nb += (double)b[i] * b[i];
    }
  }
  if (d == HX_VEC_EUCLID) return -s;
  if (d == HX_VEC_COSINE) return s / (sqrt(na) * sqrt(nb) + 1e-300);
  return s;
}

/* Brute-force top-k indices among rows with ok[i] (NULL = all). Returns count. */
static inline size_t vt_topk(hx_vec_distance d, const float *data, size_t n, uint32_t dim, const float *q,
                             const unsigned char *ok, size_t k, size_t *out) {
  double *best = malloc((k + 1) * sizeof *best);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (ok && !ok[i]) continue;
    double s = vt_sim(d, data + i * dim, q, dim);
    if (m == k && s <= best[m - 1]) continue;
    size_t j = m < k ? m++ : k - 1;
    while (j > 0 && best[j - 1] < s) {
      best[j] = best[j - 1];
      out[j] = out[j - 1];
      j--;
    }
    best[j] = s;
    out[j] = i;
  }
  free(best);
  return m;
}

static inline char *vt_tmpdir(void) {
  char *t = strdup("/tmp/hxvec-test-XXXXXX");
  if (!mkdtemp(t)) abort();
  return t;
}

static inline void vt_rmdir(const char *d) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
  if (system(cmd)) {
  }
}

static inline json_t *vt_json(const char *s) {
  json_error_t e;
  json_t *j = json_loads(s, 0, &e);
  if (!j) fprintf(stderr, "bad test json: %s: %s\n", s, e.text);
  return j;
}

#endif
