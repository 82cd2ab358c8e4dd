/* libFuzzer target: PDF extraction through poppler; any input ends in a
 * document or an error, never a crash. */
#include <stdint.h>
#include <stdlib.h>

#include "extract/extract_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
const char *__asan_default_options(void);

/* GLib and poppler keep process-lifetime caches that LeakSanitizer reports */
const char *__asan_default_options(void) { return "detect_leaks=0"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  hx_extract_limits lim;
  hx_extract_limits_default(&lim);
  lim.max_pages = 50;
  hx_doc *d = NULL;
  hx_err e = {0};
  if (hx__extract_pdf(data, n, &lim, &d, &e) == 0) {
    for (size_t i = 0; i < d->nblocks; i++)
      if (d->blocks[i].page < 1 || d->blocks[i].page > 50) abort();
  } else if (d) {
    abort();
  }
  hx_doc_free(d);
  return 0;
}
