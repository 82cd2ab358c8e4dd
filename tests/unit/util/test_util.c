/* util contracts: base64url, UUID spellings, Python-compatible JSON dump, capped buffers, JWT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth/auth.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/json.h"
#include "util/uuid.h"

static void test_b64url(void **st) {
  char enc[64];
  uint8_t dec[64];
  /* RFC 4648 test vectors, url alphabet, no padding */
  const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *want[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    hx_b64url_encode((const uint8_t *)in[i], strlen(in[i]), enc);
    assert_string_equal(enc, want[i]);
    long n = hx_b64url_decode(enc, strlen(enc), dec);
    assert_int_equal(n, (long)strlen(in[i]));
    assert_memory_equal(dec, in[i], (size_t)n);
  }
  assert_int_equal(hx_b64url_decode("Zg==", 4, dec), -1);  /* padding rejected */
  assert_int_equal(hx_b64url_decode("Z", 1, dec), -1);      /* impossible length */
  assert_int_equal(hx_b64url_decode("Zh", 2, dec), -1);     /* non-canonical trailing bits */
  assert_int_equal(hx_b64url_decode("a+b/", 4, dec), -1);   /* standard alphabet rejected */
}

static void test_uuid(void **st) {
  char out[37];
  const char *same[] = {"550e8400-e29b-41d4-a716-446655440000", "550E8400-E29B-41D4-A716-446655440000",
                        "550e8400e29b41d4a716446655440000", "{550e8400-e29b-41d4-a716-446655440000}",
                        "urn:uuid:550e8400-e29b-41d4-a716-446655440000"};
  for (int i = 0; i < 5; i++) {
    assert_int_equal(hx_uuid_canon(same[i], out), 0);
    assert_string_equal(out, "550e8400-e29b-41d4-a716-446655440000");
  }
  const char *bad[] = {"", "xyz", "550e8400-e29b-41d4-a716-44665544000", "550e8400-e29b-41d4-a716-4466554400000",
                       "550e8400-e29b-41d4-a716-44665544000g"};
  for (int i = 0; i < 5; i++) assert_int_equal(hx_uuid_canon(bad[i], out), HX_EINVAL);
  hx_uuid a, b;
  hx_uuid_v4(&a);
  hx_uuid_v4(&b);
  assert_memory_not_equal(a.b, b.b, 16);
  assert_int_equal(a.b[6] >> 4, 4);
  assert_int_equal(a.b[8] >> 6, 2);
  hx_uuid_v7(&a);
  hx_uuid_v7(&b);
  assert_int_equal(a.b[6] >> 4, 7);
  assert_int_equal(a.b[8] >> 6, 2);
  assert_true(memcmp(a.b, b.b, 6) <= 0); /* time-ordered prefix */
  assert_memory_not_equal(a.b, b.b, 16);
}

static void dump_eq(const char *json_in, int flags, const char *want) {
  json_t *v = json_loads(json_in, JSON_DECODE_ANY, NULL);
  assert_non_null(v);
  hx_buf b;
  hx_buf_init(&b, 1 << 20);
  assert_int_equal(hx_json_dump(v, flags, &b), 0);
  assert_string_equal(b.data, want);
  hx_buf_release(&b);
  json_decref(v);
}

static void test_json_dump(void **st) {
  /* expected strings are what Python's json.dumps prints for the same values */
  dump_eq("{\"b\":1,\"a\":[true,false,null]}", HX_JSON_SORT, "{\"a\":[true,false,null],\"b\":1}");
  dump_eq("{\"b\":1,\"a\":2}", 0, "{\"b\":1,\"a\":2}");
  dump_eq("[0.1, 1.0, 1e-05, 0.30000000000000004, -2.5, 1e+100, 123456789.125]", 0,
          "[0.1,1.0,1e-05,0.30000000000000004,-2.5,1e+100,123456789.125]");
  dump_eq("\"\\u00e9\\ud83d\\ude00\\u007f\\u001f\\\"\\\\/\"", HX_JSON_ASCII,
          "\"\\u00e9\\ud83d\\ude00\\u007f\\u001f\\\"\\\\/\"");
  dump_eq("\"\\u00e9\\u00e8\"", 0, "\"\xc3\xa9\xc3\xa8\"");
  dump_eq("{\"\\u00e9\":1,\"z\":2,\"Z\":3}", HX_JSON_SORT | HX_JSON_ASCII, "{\"Z\":3,\"z\":2,\"\\u00e9\":1}");
}

/* hx_json_f32 against every kind of float: the JSON number must read back
 * (as jansson reads it: strtod, then to float) as exactly the same bits. */
static void f32_roundtrip(float v) {
  char out[HX_JSON_F32_MAX];
  size_t n = hx_json_f32(v, out);
  assert_true(n < HX_JSON_F32_MAX && n == strlen(out));
  json_t *j = json_loads(out, JSON_DECODE_ANY, NULL);
  assert_non_null(j);
  assert_true(json_is_number(j));
  float back = (float)json_number_value(j);
  json_decref(j);
  uint32_t a, b;
  memcpy(&a, &v, 4);
  memcpy(&b, &back, 4);
  if (a != b) print_error("%.9g (0x%08x) wrote \"%s\", read back 0x%08x\n", (double)v, a, out, b);
  assert_int_equal(a, b);
}

static void test_json_f32(void **st) {
  (void)st;
  char out[HX_JSON_F32_MAX];
  hx_json_f32(0.5f, out);
  assert_string_equal(out, "5e-1");
  hx_json_f32(-3.0f, out);
  assert_string_equal(out, "-3");
  hx_json_f32(0.0f, out);
  assert_string_equal(out, "0");
  hx_json_f32(1234.5f, out);
  assert_string_equal(out, "12345e-1");
  const float edge[] = {0.0f, -0.0f, 1.0f, 0.1f, 1e-45f, 1.4e-45f, 1.17549435e-38f, 1.17549421e-38f, 3.40282347e38f,
                        -3.40282347e38f, 9.99999975e-6f, 1e10f, 16777216.0f, 16777215.0f, 0.32658514f, 0.999999940f};
  for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) f32_roundtrip(edge[i]);
  /* every power of two and ten and their neighbours, then random bit patterns */
  for (int e = -149; e <= 127; e++) {
    float p = ldexpf(1.0f, e);
    f32_roundtrip(p);
    f32_roundtrip(nextafterf(p, 0.0f));
    f32_roundtrip(nextafterf(p, INFINITY));
  }
  for (int e = -45; e <= 38; e++) {
    float p = (float)pow(10.0, e);
    f32_roundtrip(p);
    f32_roundtrip(nextafterf(p, 0.0f));
    f32_roundtrip(nextafterf(p, INFINITY));
  }
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (int i = 0; i < 2000000; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    uint32_t bits = (uint32_t)(x >> 17);
    float v;
    memcpy(&v, &bits, 4);
    if (isfinite(v)) f32_roundtrip(v);
  }
}

static void test_buf_cap(void **st) {
  hx_buf b;
  hx_buf_init(&b, 10);
  assert_int_equal(hx_buf_adds(&b, "0123456789"), 0);
  assert_int_equal(hx_buf_adds(&b, "x"), HX_ETOOBIG);
  assert_int_equal(b.len, 10);
  hx_buf_release(&b);
}

static void test_jwt(void **st) {
  char *tok = hx_jwt_make_dev("secret", "user-1", "550E8400-E29B-41D4-A716-446655440000", "admin", 5);
  json_t *claims = NULL;
  hx_err err = {0};
  assert_int_equal(hx_jwt_verify_hs256(tok, "secret", 1e9 /* 2001 */, &claims, &err), HX_EUNAUTH);
  assert_string_equal(err.msg, "Invalid token: The token is not yet valid (iat)");
  assert_int_equal(hx_jwt_verify_hs256(tok, "secret", 4e9, &claims, &err), HX_EUNAUTH);
  assert_string_equal(err.msg, "Token has expired");
  assert_int_equal(hx_jwt_verify_hs256(tok, "wrong", 0, &claims, &err), HX_EUNAUTH);
  assert_string_equal(err.msg, "Invalid token: Signature verification failed");

  hx_principal who;
  char header[4096];
  snprintf(header, sizeof header, "Bearer %s", tok);
  hx_auth_cfg cfg = {.hs256_secret = "secret", .issuer = "", .audience = ""};
  assert_int_equal(hx_auth_check(&cfg, header, &who, &err), 0);
  assert_string_equal(who.org_id, "550e8400-e29b-41d4-a716-446655440000");
  assert_string_equal(who.user_id, "user-1");
  assert_string_equal(who.role, "admin");
  hx_auth_cfg aud = {.hs256_secret = "secret", .issuer = "", .audience = "authenticated"};
  assert_int_equal(hx_auth_check(&aud, header, &who, &err), HX_EUNAUTH);
  assert_string_equal(err.msg, "Invalid audience claim (expected: authenticated)");
  assert_int_equal(hx_auth_check(&cfg, NULL, &who, &err), HX_EDENIED);
  assert_int_equal(err.status, 403);
  assert_int_equal(hx_auth_check(&cfg, "Bearer ", &who, &err), HX_EDENIED);
  /* truncated signature and a flipped payload bit */
  tok[strlen(tok) - 3] = '\0';
  assert_int_equal(hx_jwt_verify_hs256(tok, "secret", 0, &claims, &err), HX_EUNAUTH);
  free(tok);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_b64url), cmocka_unit_test(test_uuid), cmocka_unit_test(test_json_dump), cmocka_unit_test(test_json_f32),
      cmocka_unit_test(test_buf_cap), cmocka_unit_test(test_jwt),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
