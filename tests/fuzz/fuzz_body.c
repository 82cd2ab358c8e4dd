/* libFuzzer target: request bodies -> JSON parse, pydantic-style validation,
 * and the stable serialisation used for job keys (which must parse back to an
 * equal value). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  char *b = malloc(n + 1);
  memcpy(b, data, n);
  b[n] = '\0';
  hx_req req = {.method = "POST", .path = "/vectors/mock", .body = b, .body_len = n};
  hx_resp resp = {0};
  json_t *body = hx_v_body(&req, &resp);
  if (body) {
    hx_v v;
    hx_v_init(&v, body);
    hx_v_str(&v, "asset_id", 1, 1, 0);
    hx_v_str(&v, "segment_id", 1, 1, 100);
    if (hx_v_done(&v, &resp) && resp.status != 422) abort();
    hx_buf out;
    hx_buf_init(&out, (size_t)1 << 26);
    if (hx_json_stable(body, &out) == 0) {
      json_t *back = json_loadb(out.data, out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
      if (!back || !json_equal(back, body)) abort();
      json_decref(back);
    }
    hx_buf_release(&out);
    json_decref(body);
  } else if (resp.status != 422) {
    abort();
  }
  json_decref(resp.json);
  free(b);
  return 0;
}
