/*
 * buf.h - a growable byte buffer with a hard cap (curl dynbuf style).
 * Caller-owned struct: hx_buf_init / hx_buf_release. The data is always
 * NUL-terminated so it can be used as a C string.
 */
#ifndef HX_UTIL_BUF_H
#define HX_UTIL_BUF_H

#include <stddef.h>

typedef struct hx_buf {
  char *data;   /* owned; NULL until the first append */
  size_t len;
  size_t cap;
  size_t max;   /* appends beyond this fail with HX_ETOOBIG */
} hx_buf;

void hx_buf_init(hx_buf *b, size_t max);
void hx_buf_release(hx_buf *b);
void hx_buf_reset(hx_buf *b);                         /* len = 0, keeps memory */
int hx_buf_add(hx_buf *b, const void *p, size_t n);  /* 0, HX_ENOMEM or HX_ETOOBIG */
int hx_buf_adds(hx_buf *b, const char *s);
int hx_buf_addf(hx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the data to the caller (who frees it) and reset the buffer. */
char *hx_buf_steal(hx_buf *b, size_t *len);

#endif
