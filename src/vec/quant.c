/*
 * quant.c - quantized copies of dense vectors, for faster graph traversal.
 *
 * int8 (scalar): one affine map per shard and vector, x ≈ lo + step * c,
 * c in 0..255 (unsigned), lo/step from the data's min/max when the codes are
 * built (later vectors are clamped). The query is not mapped the same way but
 * symmetrically, q ≈ qs * a with a in -127..127, so
 *   q·x ≈ lo Σq + step*qs * Σ a_i c_i
 * where lo Σq is the same for every point of the query: the distance is one
 * integer kernel (dot_u8s8: one AVX-512 VNNI instruction per 64 codes) times a
 * constant plus a constant, with no per-point term to fetch. Euclid adds the
 * point's exact |x|² (corr[], the one per-point load it needs):
 *   |q-x|² = |q|² + |x|² - 2 q·x.
 * binary: one sign bit per dimension, distance = Hamming, for high dimensions.
 * Both are used only to find candidates; hx_vec_search rescores them on the
 * original float vectors (oversampling).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vec/vec_int.h"

void hx__quant_release(hx__quant *q) {
  hx__huge_free(q->codes);
  free(q->corr);
  q->codes = NULL;
  q->corr = NULL;
  q->coded = 0;
}

static size_t stride_of(const hx__dense_def *d, hx_vec_quant k) {
  return k == HX_VEC_QUANT_BINARY ? (size_t)((d->dim + 63) / 64) * 8 : d->dim;
}

int hx__quant_reserve(const hx__dense_def *d, hx__quant *q, uint32_t cap) {
  q->stride = stride_of(d, q->kind);
  uint8_t *c = hx__huge_realloc(q->codes, (size_t)cap * q->stride);
  if (!c) return HX_ENOMEM;
  q->codes = c;
  float *k = realloc(q->corr, (size_t)cap * sizeof *k);
  if (!k) return HX_ENOMEM;
  q->corr = k;
  return 0;
}

/* Round to nearest (halves away from zero) without a libm call: a query is
 * coded on every search, and a shard's codes on every quantization rebuild. */
static inline int round_int(float x) { return x < 0 ? (int)(x - 0.5f) : (int)(x + 0.5f); }

static void encode(const hx__dense_def *d, const hx__quant *q, const float *v, uint8_t *out, float *corr) {
  if (q->kind == HX_VEC_QUANT_BINARY) {
    memset(out, 0, q->stride);
    for (uint32_t i = 0; i < d->dim; i++)
      if (v[i] > 0) out[i / 8] |= (uint8_t)(1u << (i % 8));
    *corr = 0;
    return;
  }
  double sq = 0;
  for (uint32_t i = 0; i < d->dim; i++) {
    float t = (v[i] - q->lo) / q->step;
    int ci = t < 0 ? 0 : t > 255 ? 255 : round_int(t);
    out[i] = (uint8_t)(ci < 0 ? 0 : ci > 255 ? 255 : ci);
    sq += (double)v[i] * v[i];
  }
  *corr = d->dist == HX_VEC_EUCLID ? (float)sq : 0;
}

void hx__quant_encode(const hx__dense_def *d, hx__quant *q, uint32_t slot, const float *v) {
  uint8_t *dst = q->codes + (size_t)slot * q->stride;
  encode(d, q, v, dst, &q->corr[slot]);
  if (slot >= q->coded) q->coded = slot + 1;
}

int hx__quant_build(const hx__dense_def *d, hx__dvec *dv, uint32_t n, uint32_t cap, hx_vec_quant kind) {
  hx__quant_release(&dv->q);
  dv->q.kind = kind;
  if (!kind) return 0;
  if (hx__quant_reserve(d, &dv->q, cap ? cap : 1)) return HX_ENOMEM;
  float lo = INFINITY, hi = -INFINITY;
  for (uint32_t sl = 0; sl < n; sl++) {
    if (!dv->has[sl]) continue;
    const float *v = dv->data + (size_t)sl * d->dim;
    for (uint32_t i = 0; i < d->dim; i++) {
      lo = v[i] < lo ? v[i] : lo;
      hi = v[i] > hi ? v[i] : hi;
    }
  }
  if (!(hi > lo)) {
    lo = -1;
    hi = 1;
  }
  dv->q.lo = lo;
  dv->q.step = (hi - lo) / 255.0f;
  for (uint32_t sl = 0; sl < n; sl++)
    if (dv->has[sl]) hx__quant_encode(d, &dv->q, sl, dv->data + (size_t)sl * d->dim);
  return 0;
}

/* q·x without the query's constant lo Σq: step*qs * Σ a_i c_i. */
static inline float raw_dot(const hx__space *s, const void *q, uint32_t id) {
  const hx__vec_kernels *k = s->k;
  return s->scale2 * (float)k->dot_u8s8((const uint8_t *)s->base + (size_t)id * s->stride, q, s->dim);
}

/* constant = lo Σq */
static float d_int8_dot(const hx__space *s, const void *q, uint32_t id) {
  return -(raw_dot(s, q, id) + s->constant);
}

/* constant = lo Σq; qcorr = |q|²; corr[id] = |x|² */
static float d_int8_l2(const hx__space *s, const void *q, uint32_t id) {
  return s->qcorr + s->corr[id] - 2 * (raw_dot(s, q, id) + s->constant);
}

/* The same two distances for a list of nodes: one kernel call for the list. */
enum { BATCH = 64 };

static void d_int8_batch(const hx__space *s, const void *q, const uint32_t *ids, size_t n, float *out) {
  const hx__vec_kernels *k = s->k;
  int32_t raw[BATCH];
  for (size_t i = 0; i < n; i += BATCH) {
    size_t m = n - i < BATCH ? n - i : BATCH;
    k->dot_u8s8_batch(s->base, s->stride, ids + i, m, q, s->dim, raw);
    if (s->corr_used)
      for (size_t j = 0; j < m; j++)
        out[i + j] = s->qcorr + s->corr[ids[i + j]] - 2 * (s->scale2 * (float)raw[j] + s->constant);
    else
      for (size_t j = 0; j < m; j++) out[i + j] = -(s->scale2 * (float)raw[j] + s->constant);
  }
}

static float d_binary(const hx__space *s, const void *q, uint32_t id) {
  const hx__vec_kernels *k = s->k;
  return (float)k->hamming(q, (const void *)((const uint8_t *)s->base + (size_t)id * s->stride), s->stride / 8);
}

static const void *v_code(const hx__space *s, uint32_t id) {
  return (const uint8_t *)s->base + (size_t)id * s->stride;
}

void hx__quant_space(hx__space *sp, const hx_vec *db, const hx__dense_def *d, const hx__dvec *dv,
                     const float *qv, uint8_t *qbuf) {
  memset(sp, 0, sizeof *sp);
  sp->base = dv->q.codes;
  sp->stride = dv->q.stride;
  sp->dim = d->dim;
  sp->k = db->k;
  sp->corr = dv->q.corr;
  if (dv->q.kind == HX_VEC_QUANT_BINARY) {
    sp->vec = v_code; /* a stored code is also a query code */
    float unused;
    encode(d, &dv->q, qv, qbuf, &unused);
    sp->dist = d_binary;
    return;
  }
  float mx = 0;
  double sum = 0, sq = 0;
  for (uint32_t i = 0; i < d->dim; i++) {
    float a = fabsf(qv[i]);
    mx = a > mx ? a : mx;
    sum += qv[i];
    sq += (double)qv[i] * qv[i];
  }
  float qs = mx > 0 ? mx / 127.0f : 1.0f;
  int8_t *a = (int8_t *)qbuf;
  for (uint32_t i = 0; i < d->dim; i++) a[i] = (int8_t)round_int(qv[i] / qs);
  sp->scale2 = dv->q.step * qs;
  sp->constant = dv->q.lo * (float)sum;
  sp->qcorr = (float)sq;
  sp->dist = d->dist == HX_VEC_EUCLID ? d_int8_l2 : d_int8_dot;
  sp->dist_batch = d_int8_batch;
  sp->corr_used = d->dist == HX_VEC_EUCLID;
  /* no vec: stored and query codes differ, so this space searches but cannot insert */
}
