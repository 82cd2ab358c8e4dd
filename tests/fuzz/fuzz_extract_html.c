/* libFuzzer target: visible text of HTML with libxml2's parser; the result
 * must be valid UTF-8 (the chunker relies on it). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extract/extract_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  hx_doc *d = NULL;
  hx_err e = {0};
  if (hx_extract_mem(data, n, "text/html", NULL, NULL, &d, &e) == 0) {
    if (hx__utf8_check(d->text, d->text_len) != d->text_len || strlen(d->text) != d->text_len) abort();
  }
  hx_doc_free(d);
  return 0;
}
