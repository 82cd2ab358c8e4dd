/*
 * utf8.h - the one decoding step every text path of heimdex shares (the
 * tokenizer, the lexical embedder, the BM25 sparse encoder): the code point
 * at p[*i], with the same 422 naming the byte when the text is not UTF-8.
 */
#ifndef HX_EMBED_UTF8_H
#define HX_EMBED_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <utf8proc.h>

#include "util/err.h"

/* *c = the code point at p[*i] and *i moves past it; HX_EINVAL (422) on
 * invalid UTF-8. */
static inline int hx_utf8_next(const uint8_t *p, size_t len, size_t *i, int32_t *c, hx_err *err) {
  utf8proc_ssize_t k = utf8proc_iterate(p + *i, (utf8proc_ssize_t)(len - *i), c);
  if (k <= 0) return hx_err_setst(err, HX_EINVAL, 422, "text is not valid UTF-8 (byte %zu)", *i);
  *i += (size_t)k;
  return 0;
}

#endif
