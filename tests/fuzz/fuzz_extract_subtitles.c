/* libFuzzer target: SRT and WebVTT parsing (first byte picks the format);
 * cue times are never negative and never end before they start. */
#include <stdint.h>
#include <stdlib.h>

#include "extract/extract_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (!n) return 0;
  hx_doc *d = NULL;
  hx_err e = {0};
  if (hx_extract_mem(data + 1, n - 1, (data[0] & 1) ? "text/vtt" : "application/x-subrip", NULL, NULL, &d, &e) == 0) {
    for (size_t i = 0; i < d->nblocks; i++)
      if (d->blocks[i].start_ms < 0 || d->blocks[i].end_ms < d->blocks[i].start_ms) abort();
  }
  hx_doc_free(d);
  return 0;
}
