/* Golden values of DESIGN.md §1, taken from the original Python service. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "embed/mock.h"
#include "jobs/jobkey.h"
#include "util/json.h"
#include "vstore/pointid.h"

#define ORG "550e8400-e29b-41d4-a716-446655440000"

static void test_point_id(void **st) {
  hx_uuid u;
  uint32_t seed;
  char s[37];
  assert_int_equal(hx_point_id(ORG, "final-test-doc", "final-chunk-0", "mock", "v1", &u, &seed), 0);
  hx_uuid_str(&u, s);
  assert_string_equal(s, "753ee532-60b1-4aa4-dc7d-4fb151e78483");
  assert_int_equal(seed, 0x753ee532u);
}

static void check_key(const char *op, const char *payload_json, const char *want) {
  json_error_t je;
  json_t *p = json_loads(payload_json, 0, &je);
  assert_non_null(p);
  char key[65];
  assert_int_equal(hx_job_key(ORG, op, p, key), 0);
  assert_string_equal(key, want);
  json_decref(p);
}

static void test_job_keys(void **st) {
  check_key("mock_embedding",
            "{\"segment_id\":\"final-chunk-0\",\"model_ver\":\"v1\",\"model\":\"mock\",\"asset_id\":\"final-test-doc\"}",
            "614b0976011298ff8e235d75ffa20bcdc42ede6d3eb69ec72b267965e484e6a7");
  check_key("mock_process", "{\"type\":\"mock_process\"}",
            "aca711b095fa59a5dfe838b22aa8d5230f39cfe270623af7b920c23f96fb1172");
  char th[17];
  hx_text_hash("Hello world", 11, th);
  assert_string_equal(th, "64ec88ca00b268e5");
  check_key("dispatch_embed_text",
            "{\"asset_id\":\"test\",\"segment_id\":\"s0\",\"text_hash\":\"64ec88ca00b268e5\",\"model\":\"default\",\"model_ver\":\"v1\"}",
            "42173d743f7c13000044933108d7acc462fb87fae51df1758bc357f49855433e");
}

static void test_job_key_non_ascii(void **st) {
  json_t *p = json_pack("{s:s,s:s,s:s,s:s}", "asset_id", "\xeb\xac\xb8\xec\x84\x9c-\xc3\xa9\xf0\x9f\x98\x80",
                        "segment_id", "s\n0", "model", "mock", "model_ver", "v1");
  assert_non_null(p);
  hx_buf b;
  hx_buf_init(&b, 1 << 20);
  assert_int_equal(hx_json_stable(p, &b), 0);
  assert_string_equal(b.data,
      "{\"asset_id\":\"\\ubb38\\uc11c-\\u00e9\\ud83d\\ude00\",\"model\":\"mock\",\"model_ver\":\"v1\",\"segment_id\":\"s\\n0\"}");
  hx_buf_release(&b);
  char key[65];
  assert_int_equal(hx_job_key(ORG, "mock_embedding", p, key), 0);
  assert_string_equal(key, "cf31488be876e76985f968757de7f7b50b66669575d19d948963c992f53e166c");
  json_decref(p);
}

static void test_mock_vector(void **st) {
  float v[384];
  hx_mock_random(0x753ee532u, v, 384);
  static const uint32_t want[5] = {0x3f6b3feb, 0x3e69c2a2, 0x3f6ad81a, 0x3f206792, 0x3f32fc31};
  for (int i = 0; i < 5; i++) {
    uint32_t bits;
    memcpy(&bits, &v[i], 4);
    assert_int_equal(bits, want[i]);
  }
  assert_true((double)v[383] == 0.32658514380455017);
  double sum = 0;
  for (int i = 0; i < 384; i++) sum += (double)v[i];
  /* float32 sum accumulated in double, as numpy's float32.sum(dtype=float64) */
  assert_true(fabs(sum - 193.13753586623352) < 1e-9);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_point_id),
      cmocka_unit_test(test_job_keys),
      cmocka_unit_test(test_job_key_non_ascii),
      cmocka_unit_test(test_mock_vector),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
