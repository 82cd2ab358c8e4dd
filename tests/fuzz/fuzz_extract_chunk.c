/* libFuzzer target: the chunker on arbitrary text with small limits (first
 * two bytes: max tokens, overlap; the third bit picks a byte counter). Every
 * chunk must fit, start and end on UTF-8 boundaries and leave only
 * whitespace uncovered. A chunk over the limit must be one code point (a
 * 3-byte character is 2 tokens for the byte counter when max_tokens is 1). */
#include <stdint.h>
#include <stdlib.h>

#include "chunk/chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static size_t bytes2(void *ctx, const char *t, size_t len) {
  (void)ctx;
  (void)t;
  return (len + 1) / 2;
}

static int ws(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (n < 3) return 0;
  hx_chunk_opts o = {1 + data[0] % 40, 0, (data[2] & 1) ? bytes2 : NULL, NULL, (data[2] & 2) ? "ja" : "en"};
  o.overlap_tokens = data[1] % o.max_tokens;
  hx_doc *d = NULL;
  hx_err e = {0};
  if (hx_extract_mem(data + 3, n - 3, "text", NULL, NULL, &d, &e) != 0) return 0;
  hx_chunk_list l = {0};
  if (hx_chunk_doc(d, &o, &l, &e) != 0) abort();
  hx_token_count_fn cnt = o.count ? o.count : hx_chunk_count_default;
  size_t covered = 0;
  for (size_t i = 0; i < l.n; i++) {
    const hx_chunk *c = &l.v[i];
    size_t cps = 0;
    for (size_t k = 0; k < c->len; k++) cps += ((unsigned char)c->text[k] & 0xC0) != 0x80;
    if (cnt(NULL, c->text, c->len) > o.max_tokens && cps > 1) abort(); /* only a lone code point may */
    if (((unsigned char)d->text[c->byte_start] & 0xC0) == 0x80) abort();
    if (c->byte_end < d->text_len && ((unsigned char)d->text[c->byte_end] & 0xC0) == 0x80) abort();
    for (size_t k = covered; k < c->byte_start; k++)
      if (!ws(d->text[k])) abort();
    if (c->byte_end > covered) covered = c->byte_end;
  }
  for (size_t k = covered; k < d->text_len; k++)
    if (!ws(d->text[k])) abort();
  hx_chunk_list_release(&l);
  hx_doc_free(d);
  return 0;
}
