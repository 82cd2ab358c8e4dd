/* test_json_f32_member.c - the fast path for a search body's raw vector
 * (hx_json_f32_member): taken for the bodies clients send, declined for
 * anything it cannot answer exactly like jansson, and never in disagreement
 * with jansson (json_f32_check.h, also the fuzz target's check). */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <cmocka.h>

#include "json_f32_check.h"

static int check(size_t n, const char *text) { return f32_member_check(text, strlen(text), n); }

static void test_taken(void **st) {
  (void)st;
  assert_int_equal(check(4, "{\"vector\":[0.1,-0.25,3e-3,1]}"), 1);
  assert_int_equal(check(4, " {\n\t\"limit\" : 10 , \"vector\" : [ 0.5 ,-0 ,\r1E2, 2.5e+1 ] , \"mode\":\"dense\" } "), 1);
  /* "vector" as text or as a nested key is not the member */
  assert_int_equal(check(2, "{\"q\":\"\\\"vector\\\":[9,9]\",\"filter\":{\"vector\":[7,7]},\"vector\":[1,2]}"), 1);
  assert_int_equal(check(2, "{\"a\":[[\"]\"],{\"b\":\"}\"}],\"vector\":[1,2],\"z\":null}"), 1);
  /* past Clinger's fast path: strtod, still exactly jansson's value */
  assert_int_equal(check(4, "{\"vector\":[0.30000001192092896,123456789012345678901234.5,1e-46,3.4028235e38]}"), 1);
  assert_int_equal(check(3, "{\"vector\":[-1.17549435e-38,9007199254740993,0.000000000000000000000012345]}"), 1);
  /* what it read */
  float v[3];
  size_t at, end;
  const char *b = "{\"limit\":3,\"vector\":[-0,0.125,-7]}";
  assert_int_equal(hx_json_f32_member(b, strlen(b), "vector", v, 3, &at, &end), 0);
  assert_int_equal(at, strlen("{\"limit\":3,\"vector\":"));
  assert_int_equal(end, strlen(b) - 1);
  assert_false(signbit(v[0]));   /* an integer token: jansson's integer 0, not -0.0 */
  assert_true(v[1] == 0.125f && v[2] == -7.0f);
}

static void test_declined(void **st) {
  (void)st;
  const char *no[] = {
      "{\"vector\":[1,2,3]}",                 /* wrong dimension: the full parse words the error */
      "{\"vector\":[1,2,3,4,5]}",
      "{\"vector\":[1,2,3,\"4\"]}",
      "{\"vector\":[1,2,3,null]}",
      "{\"vector\":[1,2,3,4,]}",
      "{\"vector\":[1,2,3,01]}",
      "{\"vector\":[1,2,3,.5]}",
      "{\"vector\":[1,2,3,1.]}",
      "{\"vector\":[1,2,3,+1]}",
      "{\"vector\":[1,2,3,NaN]}",
      "{\"vector\":[1,2,3,1e39]}",            /* not a finite float */
      "{\"vector\":[1,2,3,1e400]}",           /* jansson: real number overflow */
      "{\"vector\":[1,2,3,99999999999999999999]}",   /* jansson: too big integer */
      "{\"vector\":[1,2,3,4],\"vector\":[1,2,3,4]}", /* twice: jansson keeps the last */
      "{\"vect\\u006fr\":[1,2,3,4]}",         /* an escaped key might be \"vector\" */
      "{\"vector\":{\"a\":1}}",
      "{\"limit\":10}",
      "[{\"vector\":[1,2,3,4]}]",
      "{\"vector\":[1,2,3,4]",
      "{\"vector\":[1,2,3,4",
      "",
  };
  for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
    int rc = check(4, no[i]);
    if (rc != 0) fail_msg("case %zu (%s): %d", i, no[i], rc);
  }
  /* taken, but the rest is invalid: the cut document must be invalid too */
  assert_int_equal(check(4, "{\"vector\":[1,2,3,4],\"limit\":tru}"), 1);
  assert_int_equal(check(4, "{\"a\":\"\\x\",\"vector\":[1,2,3,4]}"), 1);
  assert_int_equal(check(4, "{\"vector\":[1,2,3,4]} x"), 1);
}

/* Random bodies as clients write them: every number format, whitespace,
 * member order, decoys. */
static void test_random(void **st) {
  (void)st;
  srand(7);
  char text[16384];
  for (int round = 0; round < 3000; round++) {
    size_t n = 1 + (size_t)(rand() % 64), o = 0;
    const char *ws[] = {"", " ", "\n  ", "\t"};
    o += (size_t)snprintf(text + o, sizeof text - o, "{%s", ws[rand() % 4]);
    if (rand() % 2) o += (size_t)snprintf(text + o, sizeof text - o, "\"q\":\"vector [1] \\\"x\\\\\",%s", ws[rand() % 4]);
    o += (size_t)snprintf(text + o, sizeof text - o, "\"vector\"%s:%s[", ws[rand() % 4], ws[rand() % 4]);
    for (size_t i = 0; i < n; i++) {
      double x = ((double)rand() / RAND_MAX - 0.5) * pow(10.0, rand() % 12 - 8);
      const char *fmt[] = {"%.7f", "%.9g", "%.17g", "%e", "%.3E", "%.0f"};
      char num[64];
      snprintf(num, sizeof num, fmt[rand() % 6], x);
      if (strchr(num, 'n') || strchr(num, 'N')) strcpy(num, "0");
      o += (size_t)snprintf(text + o, sizeof text - o, "%s%s%s", i ? "," : "", ws[rand() % 4], num);
    }
    o += (size_t)snprintf(text + o, sizeof text - o, "]%s", ws[rand() % 4]);
    if (rand() % 2) o += (size_t)snprintf(text + o, sizeof text - o, ",\"filter\":{\"must\":[{\"key\":\"vector\",\"match\":{\"value\":\"]\"}}]}");
    snprintf(text + o, sizeof text - o, ",\"limit\":%d}", rand() % 100);
    int rc = check(n, text);
    if (rc != 1) fail_msg("round %d: %d for %s", round, rc, text);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_taken), cmocka_unit_test(test_declined),
                                     cmocka_unit_test(test_random)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
