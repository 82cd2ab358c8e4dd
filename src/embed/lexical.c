/*
 * lexical.c - hashed word + character n-gram embedding (contract and exact
 * feature definition in lexical.h). Features are counted in a small open
 * addressing table keyed by their 64-bit hash, then folded into the vector
 * with sublinear tf; nothing depends on iteration order except float
 * summation order, which is fixed by the text.
 */
#include "embed/lexical.h"
#include "embed/utf8.h"
#include "util/hash.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

typedef struct feat {
  uint64_t h;            /* 0 = empty slot */
  float w;
  int n;
} feat;

typedef struct table {
  feat *s;               /* owned */
  size_t mask, used;
} table;

static int add(table *t, uint64_t h, float w) {
  if (h == 0) h = 1;
  if ((t->used + 1) * 2 > t->mask + 1) {
    size_t cap = (t->mask + 1) * 2;
    feat *ns = calloc(cap, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i <= t->mask; i++)
      if (t->s[i].h) {
        size_t j = (size_t)t->s[i].h & (cap - 1);
        while (ns[j].h) j = (j + 1) & (cap - 1);
        ns[j] = t->s[i];
      }
    free(t->s);
    t->s = ns;
    t->mask = cap - 1;
  }
  size_t i = (size_t)h & t->mask;
  while (t->s[i].h && t->s[i].h != h) i = (i + 1) & t->mask;
  if (!t->s[i].h) {
    t->s[i].h = h;
    t->s[i].w = w;
    t->used++;
  }
  t->s[i].n++;
  return 0;
}

/* Features of one word given as UTF-8 bytes with code point offsets. */
static int word_features(table *t, const uint8_t *u, const int *off, int nc) {
  uint8_t buf[8 + 4 * 5];
  if (add(t, hx_fnv1a64(hx_fnv1a64(HX_FNV1A64_INIT, "w:", 2), u, (size_t)off[nc]), 1.0f)) return -1;
  /* grams over "<" word ">": virtual positions -1 .. nc */
  for (int n = 3; n <= 5; n++)
    for (int s = -1; s + n <= nc + 1; s++) {
      size_t k = 0;
      buf[k++] = 'c';
      buf[k++] = ':';
      int a = s < 0 ? 0 : s, e = s + n > nc ? nc : s + n;
      if (s < 0) buf[k++] = '<';
      memcpy(buf + k, u + off[a], (size_t)(off[e] - off[a]));
      k += (size_t)(off[e] - off[a]);
      if (s + n > nc) buf[k++] = '>';
      if (add(t, hx_fnv1a64(HX_FNV1A64_INIT, buf, k), 0.4f)) return -1;
    }
  return 0;
}

static int is_word_char(int32_t c) {
  utf8proc_category_t k = utf8proc_category(c);
  return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_NO);
}

int hx_lexical_embed(const char *text, size_t len, int dim, float *out, int *nwords, hx_err *err) {
  const uint8_t *p = (const uint8_t *)text;
  table t = {0};
  uint8_t word[4 * 64];
  int off[65], nc = 0, words = 0, rc = 0;
  size_t i = 0;

  if (dim <= 0) return hx_err_set(err, HX_EINVAL, "lexical dimension must be positive");
  t.s = calloc(64, sizeof *t.s);
  if (!t.s) return hx_err_set(err, HX_ENOMEM, "out of memory");
  t.mask = 63;
  off[0] = 0;
  for (;;) {
    int32_t c = -1;
    if (i < len && (rc = hx_utf8_next(p, len, &i, &c, err))) goto out;
    if (c >= 0 && is_word_char(c)) {
      if (nc < 64) { /* longer words keep their first 64 characters */
        off[nc + 1] = off[nc] + (int)utf8proc_encode_char(utf8proc_tolower(c), word + off[nc]);
        nc++;
      }
      continue;
    }
    if (nc > 0) {
      if (word_features(&t, word, off, nc)) {
        rc = hx_err_set(err, HX_ENOMEM, "out of memory");
        goto out;
      }
      words++;
      nc = 0;
    }
    if (c < 0) break;
  }
  if (words == 0) {
    rc = hx_err_setst(err, HX_EINVAL, 422, "text has no words to embed");
    goto out;
  }
  memset(out, 0, (size_t)dim * sizeof *out);
  for (size_t j = 0; j <= t.mask; j++) {
    const feat *f = &t.s[j];
    if (!f->h) continue;
    float v = f->w * (1.0f + logf((float)f->n));
    out[f->h % (uint64_t)dim] += (f->h >> 63) ? -v : v;
  }
  double ss = 0;
  for (int k = 0; k < dim; k++) ss += (double)out[k] * out[k];
  if (ss > 0) {
    float inv = (float)(1.0 / sqrt(ss));
    for (int k = 0; k < dim; k++) out[k] *= inv;
  }
  if (nwords) *nwords = words;
out:
  free(t.s);
  return rc;
}
