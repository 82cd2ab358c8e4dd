/* buf.c - growable, capped byte buffer. */
#include "util/buf.h"
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hx_buf_init(hx_buf *b, size_t max) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->max = max;
}

void hx_buf_release(hx_buf *b) {
  free(b->data);
  hx_buf_init(b, b->max);
}

void hx_buf_reset(hx_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

static int grow(hx_buf *b, size_t need) {
  if (need > b->max) return HX_ETOOBIG;
  if (need + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need + 1) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) return HX_ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int hx_buf_add(hx_buf *b, const void *p, size_t n) {
  int rc = grow(b, b->len + n);
  if (rc) return rc;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int hx_buf_adds(hx_buf *b, const char *s) { return hx_buf_add(b, s, strlen(s)); }

int hx_buf_addf(hx_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return HX_EINVAL;
  int rc = grow(b, b->len + (size_t)n);
  if (rc) return rc;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

char *hx_buf_steal(hx_buf *b, size_t *len) {
  if (grow(b, b->len)) return NULL; /* ensures data exists even when empty */
  char *p = b->data;
  if (len) *len = b->len;
  hx_buf_init(b, b->max);
  return p;
}
