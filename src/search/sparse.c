/*
 * sparse.c - the BM25 term-frequency half of keyword search (contract in
 * sparse.h). Terms are hashed as they are found into a growing array, which
 * is sorted once; equal neighbours are one term with their count as tf.
 */
#include "search/sparse.h"
#include "embed/utf8.h"

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#define MAX_WORD 64
#define NORM_OPTS (UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK)

uint32_t hx_sparse_term_id(const char *term, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)term[i];
    h *= 16777619u;
  }
  return h;
}

void hx_sparse_release(hx_sparse *s) {
  if (!s) return;
  free(s->idx);
  free(s->val);
  s->idx = NULL;
  s->val = NULL;
  s->n = 0;
}

/* Scripts written without spaces between words. */
static int is_cjk(int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x3040 && c <= 0x30FF) ||
         (c >= 0x31F0 && c <= 0x31FF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FA1F);
}

static int is_word(int32_t c) {
  utf8proc_category_t k = utf8proc_category(c);
  return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
         (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

typedef struct terms {
  uint32_t *h;  /* owned */
  size_t n, cap;
} terms;

static int push(terms *t, const uint8_t *bytes, size_t len) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    uint32_t *nh = realloc(t->h, cap * sizeof *nh);
    if (!nh) return -1;
    t->h = nh;
    t->cap = cap;
  }
  t->h[t->n++] = hx_sparse_term_id((const char *)bytes, len);
  return 0;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

int hx_sparse_encode(const char *text, size_t len, int query, hx_sparse *out, hx_err *err) {
  const uint8_t *p = (const uint8_t *)text;
  terms t = {0};
  uint8_t word[4 * MAX_WORD], cjk[8];
  size_t wlen = 0, i = 0;
  int wchars = 0, clen = 0, rc = 0; /* clen: bytes of the previous CJK character, 0 = none */
  memset(out, 0, sizeof *out);
  for (;;) {
    int32_t c = -1, d[32];
    utf8proc_ssize_t nd = 0;
    if (i < len) {
      if ((rc = hx_utf8_next(p, len, &i, &c, err))) goto out;
      int last = 0;
      nd = utf8proc_decompose_char(c, d, 32, NORM_OPTS, &last);
      if (nd < 0 || nd > 32) nd = 0; /* cannot happen for valid code points; drop the character */
    }
    /* c < 0 (end of text): one pass with no character flushes the last word */
    for (utf8proc_ssize_t j = 0; j < (c < 0 ? 1 : nd); j++) {
      int32_t x = c < 0 ? -1 : d[j];
      int w = x >= 0 && is_word(x), ideo = w && is_cjk(x);
      if (w && !ideo) {
        if (wchars < MAX_WORD) wlen += (size_t)utf8proc_encode_char(x, word + wlen), wchars++;
        clen = 0;
        continue;
      }
      if (wlen && push(&t, word, wlen)) goto oom;
      wlen = 0;
      wchars = 0;
      if (!ideo) {
        clen = 0;
        continue;
      }
      int n = (int)utf8proc_encode_char(x, cjk + clen);
      if (push(&t, cjk + clen, (size_t)n)) goto oom;            /* unigram */
      if (clen && push(&t, cjk, (size_t)(clen + n))) goto oom;  /* bigram with the previous one */
      memmove(cjk, cjk + clen, (size_t)n);
      clen = n;
    }
    if (c < 0) break;
  }
  if (t.n) {
    qsort(t.h, t.n, sizeof *t.h, cmp_u32);
    size_t distinct = 1;
    for (size_t k = 1; k < t.n; k++) distinct += t.h[k] != t.h[k - 1];
    out->idx = malloc(distinct * sizeof *out->idx);
    out->val = malloc(distinct * sizeof *out->val);
    if (!out->idx || !out->val) goto oom;
    double norm = HX_SPARSE_K1 * (1 - HX_SPARSE_B + HX_SPARSE_B * (double)t.n / HX_SPARSE_AVGDL);
    for (size_t a = 0, b; a < t.n; a = b) {
      for (b = a + 1; b < t.n && t.h[b] == t.h[a]; b++) {}
      double tf = (double)(b - a);
      out->idx[out->n] = t.h[a];
      out->val[out->n++] = query ? 1.0f : (float)(tf * (HX_SPARSE_K1 + 1) / (tf + norm));
    }
  }
  goto out;
oom:
  hx_sparse_release(out);
  rc = hx_err_set(err, HX_ENOMEM, "out of memory");
out:
  free(t.h);
  return rc;
}
