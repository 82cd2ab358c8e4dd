/* libFuzzer target: the fast path for a search body's raw vector
 * (hx_json_f32_member) must agree with jansson wherever it answers: same
 * numbers, same rest of the document, same validity. n = 4, or the first
 * byte's value when the input starts with a digit (other dimensions). */
#include <stdint.h>

#include "json_f32_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  size_t dim = 4;
  if (n && data[0] >= '1' && data[0] <= '9') {
    dim = (size_t)(data[0] - '0');
    data++;
    n--;
  }
  if (f32_member_check((const char *)data, n, dim) < 0) abort();
  return 0;
}
