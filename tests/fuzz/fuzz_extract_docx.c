/* libFuzzer target: DOCX (zip + WordprocessingML) extraction under tight
 * inflate limits. */
#include <stdint.h>
#include <stdlib.h>

#include "extract/extract_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  hx_extract_limits lim;
  hx_extract_limits_default(&lim);
  lim.max_inflated_bytes = 1 << 20;
  lim.max_entries = 64;
  hx_doc *d = NULL;
  hx_err e = {0};
  if (hx__extract_docx(data, n, &lim, &d, &e) != 0 && d) abort();
  hx_doc_free(d);
  return 0;
}
