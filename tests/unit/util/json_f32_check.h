/* json_f32_check.h - the differential check of hx_json_f32_member against
 * jansson, shared by its unit test and its fuzz target. */
#ifndef HX_TEST_JSON_F32_CHECK_H
#define HX_TEST_JSON_F32_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "util/json.h"

/* 1: the fast path took text and agrees with jansson on it: the document cut
 * ("[]" in place of the array) is valid exactly when text is, and when it is,
 * text's top-level "vector" holds exactly the n floats read, and everything
 * else is equal. 0: the fast path declined. -1: a disagreement. */
static inline int f32_member_check(const char *text, size_t len, size_t n) {
  float *out = malloc((n + 1) * sizeof *out);
  size_t at = 0, end = 0;
  int rc = hx_json_f32_member(text, len, "vector", out, n, &at, &end), res = 1;
  if (rc != 0) {
    free(out);
    return 0;
  }
  if (at >= end || end > len || text[at] != '[' || text[end - 1] != ']') {
    free(out);
    return -1;
  }
  char *cut = malloc(len - (end - at) + 3);
  memcpy(cut, text, at);
  memcpy(cut + at, "[]", 2);
  memcpy(cut + at + 2, text + end, len - end);
  json_t *orig = json_loadb(text, len, JSON_DECODE_ANY, NULL);
  json_t *c = json_loadb(cut, len - (end - at) + 2, JSON_DECODE_ANY, NULL);
  if (!orig != !c) {
    res = -1;
  } else if (orig) {
    json_t *x = json_object_get(orig, "vector");
    if (!json_is_object(orig) || !json_is_array(x) || json_array_size(x) != n ||
        !json_is_array(json_object_get(c, "vector")) || json_array_size(json_object_get(c, "vector")) != 0)
      res = -1;
    for (size_t i = 0; res == 1 && i < n; i++) {
      json_t *y = json_array_get(x, i);
      float f = (float)json_number_value(y);
      if (!json_is_number(y) || memcmp(&f, &out[i], sizeof f) != 0) res = -1;
    }
    if (res == 1) {
      json_object_del(orig, "vector");
      json_object_del(c, "vector");
      if (!json_equal(orig, c)) res = -1;
    }
  }
  json_decref(orig);
  json_decref(c);
  free(cut);
  free(out);
  return res;
}

#endif
