/* libFuzzer target: UUID parsing; canonical form is a fixed point. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/uuid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  char *s = malloc(n + 1);
  memcpy(s, data, n);
  s[n] = '\0';
  char a[37], b[37];
  if (hx_uuid_canon(s, a) == 0) {
    if (hx_uuid_canon(a, b) != 0 || strcmp(a, b) != 0) abort();
  }
  free(s);
  return 0;
}
