/* libFuzzer target: sniffing, encoding detection (UTF-8/UTF-16 BOMs) and the
 * text/Markdown extractor, without a declared type. Checks the doc's layout:
 * offsets, joined text, valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extract/extract_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  hx_doc *d = NULL;
  hx_err e = {0};
  const char *name = n && (data[0] & 1) ? "x.md" : "x.txt";
  if (n > 4 && (memcmp(data, "%PDF", 4) == 0 || memcmp(data, "PK", 2) == 0)) return 0; /* other targets */
  if (hx_extract_mem(data, n, NULL, name, NULL, &d, &e) == 0) {
    if (hx__utf8_check(d->text, d->text_len) != d->text_len || strlen(d->text) != d->text_len) abort();
    for (size_t i = 0; i < d->nblocks; i++)
      if (memcmp(d->text + d->blocks[i].offset, d->blocks[i].text, d->blocks[i].len) != 0) abort();
  } else if (d || !e.msg[0]) {
    abort(); /* an error always says why */
  }
  hx_doc_free(d);
  return 0;
}
