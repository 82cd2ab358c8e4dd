/*
 * quant.c - quantized copies of dense vectors, for faster graph traversal.
 *
 * int8 (scalar): one affine map per shard and vector, x ≈ lo + step * code,
 * code in 0..255, lo/step from the data's min/max when the codes are built
 * (later vectors are clamped). Dot products between codes are exact integers:
 *   x·y ≈ d*lo² + lo*step*(Σa + Σb) + step² * Σ a_i b_i
 * so a per-vector correction lo*step*Σa makes the distance one integer kernel
 * plus two adds; Euclid is step² * (Σa² + Σb² - 2 Σ a_i b_i) with Σa² stored.
 * Stored codes are kept as signed bytes (code - 128) and the query's as
 * unsigned, so Σ a_i b_i = dot_u8s8(query, stored) + 128 Σ query, which one
 * AVX-512 VNNI instruction computes 64 codes at a time.
 * binary: one sign bit per dimension, distance = Hamming, for high dimensions.
 * Both are used only to find candidates; hx_vec_search rescores them on the
 * original float vectors (oversampling).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vec/vec_int.h"

void hx__quant_release(hx__quant *q) {
  free(q->codes);
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
  uint8_t *c = realloc(q->codes, (size_t)cap * q->stride);
  if (!c) return HX_ENOMEM;
  q->codes = c;
  float *k = realloc(q->corr, (size_t)cap * sizeof *k);
  if (!k) return HX_ENOMEM;
  q->corr = k;
  return 0;
}

static void encode(const hx__dense_def *d, const hx__quant *q, const float *v, uint8_t *out, float *corr) {
  if (q->kind == HX_VEC_QUANT_BINARY) {
    memset(out, 0, q->stride);
    for (uint32_t i = 0; i < d->dim; i++)
      if (v[i] > 0) out[i / 8] |= (uint8_t)(1u << (i % 8));
    *corr = 0;
    return;
  }
  uint32_t sum = 0;
  uint64_t sq = 0;
  for (uint32_t i = 0; i < d->dim; i++) {
    float c = (v[i] - q->lo) / q->step;
    int ci = (int)lrintf(c);
    ci = ci < 0 ? 0 : ci > 255 ? 255 : ci;
    out[i] = (uint8_t)ci;
    sum += (uint32_t)ci;
    sq += (uint64_t)(ci * ci);
  }
  *corr = d->dist == HX_VEC_EUCLID ? (float)sq : q->lo * q->step * (float)sum;
}

/* Σ of unsigned query codes, needed to undo the -128 shift of stored codes. */
static uint32_t code_sum(const uint8_t *c, uint32_t n) {
  uint32_t s = 0;
  for (uint32_t i = 0; i < n; i++) s += c[i];
  return s;
}

void hx__quant_encode(const hx__dense_def *d, hx__quant *q, uint32_t slot, const float *v) {
  uint8_t *dst = q->codes + (size_t)slot * q->stride;
  encode(d, q, v, dst, &q->corr[slot]);
  if (q->kind == HX_VEC_QUANT_INT8)
    for (uint32_t i = 0; i < d->dim; i++) dst[i] ^= 0x80; /* stored signed: code - 128 */
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

/* Σ query_code * stored_code, stored codes being signed (code - 128). */
static inline float raw_dot(const hx__space *s, const void *q, uint32_t id) {
  const hx__vec_kernels *k = s->k;
  const int8_t *c = (const int8_t *)s->base + (size_t)id * s->stride;
  return (float)k->dot_u8s8(q, c, s->dim) + s->constant;
}

/* constant = 128 Σq; qcorr = lo*step*Σq + d*lo² */
static float d_int8_dot(const hx__space *s, const void *q, uint32_t id) {
  return -(s->scale2 * raw_dot(s, q, id) + s->qcorr + s->corr[id]);
}

/* constant = 128 Σq; qcorr = Σq²; corr[id] = Σc² */
static float d_int8_l2(const hx__space *s, const void *q, uint32_t id) {
  return s->scale2 * (s->qcorr + s->corr[id] - 2 * raw_dot(s, q, id));
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
  sp->vec = v_code;
  float qc;
  encode(d, &dv->q, qv, qbuf, &qc);
  if (dv->q.kind == HX_VEC_QUANT_BINARY) {
    sp->dist = d_binary;
    return;
  }
  sp->scale2 = dv->q.step * dv->q.step;
  sp->constant = 128.0f * (float)code_sum(qbuf, d->dim);
  if (d->dist == HX_VEC_EUCLID) {
    sp->dist = d_int8_l2;
    sp->qcorr = qc;
  } else {
    sp->dist = d_int8_dot;
    sp->qcorr = qc + (float)d->dim * dv->q.lo * dv->q.lo;
  }
}
