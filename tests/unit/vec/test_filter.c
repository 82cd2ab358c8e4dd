/*
 * test_filter.c - the Qdrant filter language: every operator, nested groups,
 * min_should, dotted keys and arrays, has_id, is_empty/is_null, and the parser's
 * precise error paths. Truth tables are written by hand from Qdrant's documented
 * semantics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "unit/vec/vt.h"

/* Payloads indexed 0..5 (Qdrant's filtering docs' city/color example + extras). */
static const char *P[] = {
    "{\"city\":\"London\",\"color\":\"green\",\"n\":1,\"tags\":[\"a\",\"b\"],\"geo\":{\"zip\":10}}",
    "{\"city\":\"London\",\"color\":\"red\",\"n\":2.5,\"tags\":[],\"x\":null}",
    "{\"city\":\"London\",\"color\":\"blue\",\"n\":3,\"geo\":{\"zip\":20},\"items\":[{\"k\":\"q\",\"v\":1},{\"k\":\"r\",\"v\":2}]}",
    "{\"city\":\"Berlin\",\"color\":\"red\",\"n\":4,\"tags\":[\"b\"],\"ok\":true}",
    "{\"city\":\"Moscow\",\"color\":\"green\",\"n\":5,\"ok\":false,\"items\":[{\"k\":\"q\",\"v\":2}]}",
    "{\"city\":[\"Moscow\",\"Berlin\"],\"color\":\"blue\",\"txt\":\"hello brave world\"}",
};
enum { NP = 6 };

/* Returns the bit mask of payloads matching filter text f. */
static unsigned run(const char *f) {
  hx_err e = {0};
  json_t *j = vt_json(f);
  hx_vec_filter *flt = NULL;
  int rc = hx_vec_filter_parse(j, &flt, &e);
  if (rc) fprintf(stderr, "parse %s: %s\n", f, e.msg);
  assert_int_equal(rc, 0);
  unsigned m = 0;
  for (int i = 0; i < NP; i++) {
    json_t *p = vt_json(P[i]);
    hx_vec_id id = hx_vec_id_num((uint64_t)i + 100);
    if (hx_vec_filter_match(flt, &id, p)) m |= 1u << i;
    json_decref(p);
  }
  hx_vec_filter_free(flt);
  json_decref(j);
  return m;
}

#define B(i) (1u << (i))

static void test_match(void **st) {
  (void)st;
  assert_int_equal(run("{\"must\":[{\"key\":\"city\",\"match\":{\"value\":\"London\"}}]}"), B(0) | B(1) | B(2));
  /* an array value matches if any element does */
  assert_int_equal(run("{\"must\":[{\"key\":\"city\",\"match\":{\"value\":\"Berlin\"}}]}"), B(3) | B(5));
  assert_int_equal(run("{\"must\":[{\"key\":\"n\",\"match\":{\"value\":3}}]}"), B(2));
  assert_int_equal(run("{\"must\":[{\"key\":\"ok\",\"match\":{\"value\":true}}]}"), B(3));
  assert_int_equal(run("{\"must\":[{\"key\":\"ok\",\"match\":{\"value\":false}}]}"), B(4));
  assert_int_equal(run("{\"must\":[{\"key\":\"color\",\"match\":{\"any\":[\"red\",\"blue\"]}}]}"), B(1) | B(2) | B(3) | B(5));
  /* except: values not in the list; a missing field has no excluded value */
  assert_int_equal(run("{\"must\":[{\"key\":\"color\",\"match\":{\"except\":[\"red\",\"blue\"]}}]}"), B(0) | B(4));
  assert_int_equal(run("{\"must\":[{\"key\":\"ok\",\"match\":{\"except\":[\"zzz\"]}}]}"), 0x3f);
  assert_int_equal(run("{\"must\":[{\"key\":\"tags\",\"match\":{\"except\":[\"a\"]}}]}"), 0x3f); /* [a,b] has b; [] and missing have no value */
  assert_int_equal(run("{\"must\":[{\"key\":\"tags\",\"match\":{\"any\":[\"a\"]}}]}"), B(0));
  assert_int_equal(run("{\"must\":[{\"key\":\"txt\",\"match\":{\"text\":\"brave\"}}]}"), B(5));
}

static void test_range_and_nested_keys(void **st) {
  (void)st;
  assert_int_equal(run("{\"must\":[{\"key\":\"n\",\"range\":{\"gt\":1,\"lte\":4}}]}"), B(1) | B(2) | B(3));
  assert_int_equal(run("{\"must\":[{\"key\":\"n\",\"range\":{\"gte\":1,\"lt\":2.5}}]}"), B(0));
  assert_int_equal(run("{\"must\":[{\"key\":\"n\",\"range\":{}}]}"), 0x1f); /* any number */
  assert_int_equal(run("{\"must\":[{\"key\":\"geo.zip\",\"range\":{\"gte\":15}}]}"), B(2));
  assert_int_equal(run("{\"must\":[{\"key\":\"items[].k\",\"match\":{\"value\":\"q\"}}]}"), B(2) | B(4));
  assert_int_equal(run("{\"must\":[{\"key\":\"items.v\",\"match\":{\"value\":2}}]}"), B(2) | B(4));
  assert_int_equal(run("{\"must\":[{\"key\":\"tags\",\"values_count\":{\"gte\":2}}]}"), B(0));
  /* nested object filter: both conditions on the same array element */
  assert_int_equal(run("{\"must\":[{\"nested\":{\"key\":\"items\",\"filter\":{\"must\":["
                       "{\"key\":\"k\",\"match\":{\"value\":\"q\"}},{\"key\":\"v\",\"match\":{\"value\":2}}]}}}]}"),
                   B(4));
  /* whereas the flattened form matches element-independently */
  assert_int_equal(run("{\"must\":[{\"key\":\"items[].k\",\"match\":{\"value\":\"q\"}},"
                       "{\"key\":\"items[].v\",\"match\":{\"value\":2}}]}"),
                   B(2) | B(4));
}

static void test_empty_null_id(void **st) {
  (void)st;
  /* is_empty: missing, null or [] */
  assert_int_equal(run("{\"must\":[{\"is_empty\":{\"key\":\"tags\"}}]}"), B(1) | B(2) | B(4) | B(5));
  assert_int_equal(run("{\"must\":[{\"is_empty\":{\"key\":\"x\"}}]}"), 0x3f);
  assert_int_equal(run("{\"must\":[{\"is_null\":{\"key\":\"x\"}}]}"), B(1));
  assert_int_equal(run("{\"must\":[{\"has_id\":[101,104,\"6f1e0d5c-0000-4000-8000-000000000000\"]}]}"), B(1) | B(4));
  assert_int_equal(run("{\"must_not\":[{\"has_id\":[100]}]}"), 0x3f & ~B(0));
}

static void test_boolean_groups(void **st) {
  (void)st;
  const char *london = "{\"key\":\"city\",\"match\":{\"value\":\"London\"}}";
  const char *red = "{\"key\":\"color\",\"match\":{\"value\":\"red\"}}";
  char f[1024];
  snprintf(f, sizeof f, "{\"must\":[%s,%s]}", london, red);
  assert_int_equal(run(f), B(1));
  snprintf(f, sizeof f, "{\"should\":[%s,%s]}", london, red);
  assert_int_equal(run(f), B(0) | B(1) | B(2) | B(3));
  snprintf(f, sizeof f, "{\"must_not\":[%s,%s]}", london, red);
  assert_int_equal(run(f), B(4) | B(5));
  snprintf(f, sizeof f, "{\"must\":[%s],\"must_not\":[%s]}", london, red);
  assert_int_equal(run(f), B(0) | B(2));
  /* nested group: London AND NOT (red OR blue) */
  snprintf(f, sizeof f, "{\"must\":[%s,{\"must_not\":[{\"should\":[%s,{\"key\":\"color\",\"match\":{\"value\":\"blue\"}}]}]}]}",
           london, red);
  assert_int_equal(run(f), B(0));
  /* min_should: at least 2 of (London, red, n>=3) */
  snprintf(f, sizeof f, "{\"min_should\":{\"min_count\":2,\"conditions\":[%s,%s,{\"key\":\"n\",\"range\":{\"gte\":3}}]}}",
           london, red);
  assert_int_equal(run(f), B(1) | B(2) | B(3));
  snprintf(f, sizeof f, "{\"min_should\":{\"min_count\":3,\"conditions\":[%s,%s,{\"key\":\"n\",\"range\":{\"gte\":3}}]}}",
           london, red);
  assert_int_equal(run(f), 0);
  assert_int_equal(run("{\"min_should\":{\"min_count\":1,\"conditions\":[]}}"), 0);
  assert_int_equal(run("{}"), 0x3f);
  /* a single condition object in place of a list */
  snprintf(f, sizeof f, "{\"must\":%s}", red);
  assert_int_equal(run(f), B(1) | B(3));
}

static void expect_err(const char *f, const char *msg) {
  hx_err e = {0};
  json_t *j = vt_json(f);
  hx_vec_filter *flt = (hx_vec_filter *)1;
  assert_int_equal(hx_vec_filter_parse(j, &flt, &e), HX_EINVAL);
  assert_null(flt);
  if (strcmp(e.msg, msg)) fprintf(stderr, "got  '%s'\nwant '%s'\n", e.msg, msg);
  assert_string_equal(e.msg, msg);
  json_decref(j);
}

static void test_errors(void **st) {
  (void)st;
  expect_err("{\"must\":[{\"key\":\"a\",\"match\":{\"valu\":1}}]}", "filter.must[0].match: expected value, any, except or text");
  expect_err("{\"must\":[{\"key\":\"a\",\"match\":{\"value\":1}},{\"key\":\"a\",\"range\":{\"gt\":\"x\"}}]}",
             "filter.must[1].range.gt: expected a number");
  expect_err("{\"should\":[{\"must\":[{\"key\":\"a\"}]}]}",
             "filter.should[0].must[0]: expected exactly one of match, range or values_count");
  expect_err("{\"must\":[{\"key\":\"a\",\"match\":{\"any\":[1,\"x\"]}}]}", "filter.must[0].match.any[1]: expected an integer");
  expect_err("{\"must\":[{\"key\":\"a\",\"match\":{\"value\":{}}}]}",
             "filter.must[0].match.value: expected a string, integer or boolean");
  expect_err("{\"must\":[{\"has_id\":[-1]}]}", "filter.must[0].has_id[0]: point id: negative integer");
  expect_err("{\"mustt\":[]}", "filter: unknown field 'mustt' (expected must, should, must_not or min_should)");
  expect_err("{\"must\":[1]}", "filter.must[0]: expected an object");
  expect_err("{\"min_should\":{\"conditions\":[]}}", "filter.min_should.min_count: expected a non-negative integer");
  expect_err("{\"must\":[{\"key\":\"\",\"match\":{\"value\":1}}]}", "filter.must[0].key: expected a non-empty string");
  expect_err("{\"must\":[{\"nested\":{\"key\":\"a\",\"filter\":{\"must\":[{\"has_id\":[1]}]}}}]}",
             "filter.must[0].nested.filter.must[0].has_id: not allowed inside nested");
  expect_err("[]", "filter: expected an object");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_match),
      cmocka_unit_test(test_range_and_nested_keys),
      cmocka_unit_test(test_empty_null_id),
      cmocka_unit_test(test_boolean_groups),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
