/* libFuzzer target: POST /vectors/search bodies -> the search plan (field
 * validation, filter compilation and its error paths, the asset/segment AND).
 * Invariants: a body is either a plan or a precise error (422 items that each
 * carry type/loc/msg, or a 400), and an accepted plan is self-consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "search/search.h"
#include "vec/vec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  json_t *body = json_loadb((const char *)data, n, JSON_DECODE_ANY, NULL);
  if (!body) return 0;
  if (!json_is_object(body)) {
    json_decref(body);
    return 0;
  }
  hx_search_plan p;
  json_t *errors = NULL;
  hx_err err = {0};
  int rc = hx_search_plan_parse(body, 4, NULL, &p, &errors, &err);
  if (rc == HX_EINVAL) {
    if (!json_is_array(errors) || json_array_size(errors) == 0) abort();
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
      if (!json_is_string(json_object_get(e, "type")) || !json_is_array(json_object_get(e, "loc")) ||
          !json_is_string(json_object_get(e, "msg")))
        abort();
    }
  } else if (rc == HX_EBADREQ) {
    if (errors || err.status != 400) abort();
  } else if (rc == 0) {
    if (errors || p.limit < 1 || p.limit > HX_SEARCH_MAX_LIMIT || p.offset > HX_SEARCH_MAX_OFFSET) abort();
    if (!p.query_text && !p.vector) abort();
    if (p.vector && p.dim != 4) abort();
    if (p.mmr && !(p.mmr_lambda >= 0 && p.mmr_lambda <= 1)) abort();
    if (p.filter) {   /* what the store will compile must compile */
      hx_vec_filter *f = NULL;
      if (hx_vec_filter_parse(p.filter, &f, NULL)) abort();
      hx_vec_filter_free(f);
    }
    hx_search_plan_release(&p);
  } else {
    abort();
  }
  json_decref(errors);
  json_decref(body);
  return 0;
}
