/* test_safetensors.c - the reader accepts the fixture and rejects each kind
 * of damage with HX_ECORRUPT naming the file; F16/BF16 conversions. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "embed/safetensors.h"
#include "unit/embed/fixture.h"

static void test_fixture_opens(void **s) {
  (void)s;
  hx_safetensors *st = NULL;
  hx_err err = {0};
  assert_int_equal(hx_safetensors_open(FIX_F32 "/model.safetensors", &st, &err), 0);
  const hx_st_tensor *t = hx_safetensors_find(st, "embeddings.word_embeddings.weight");
  assert_non_null(t);
  assert_int_equal(t->dtype, HX_ST_F32);
  assert_int_equal(t->ndim, 2);
  assert_int_equal(t->shape[1], 32);
  assert_true(hx_safetensors_count(st) > 20);
  assert_null(hx_safetensors_find(st, "nope"));
  hx_safetensors_close(st);
  assert_int_equal(hx_safetensors_open(FIX_BF16 "/model.safetensors", &st, &err), 0);
  t = hx_safetensors_find(st, "bert.embeddings.LayerNorm.weight");
  assert_non_null(t);
  assert_int_equal(t->dtype, HX_ST_BF16);
  hx_safetensors_close(st);
}

/* One file made of an 8-byte length, the header text and `data` bytes. */
static int open_made(const char *header, size_t data, uint64_t hlen_override, hx_err *err) {
  char path[] = "/tmp/hx-embed-test-st-XXXXXX";
  int fd = mkstemp(path);
  size_t hl = strlen(header);
  uint64_t hlen = hlen_override ? hlen_override : hl;
  unsigned char len[8];
  for (int i = 0; i < 8; i++) len[i] = (unsigned char)(hlen >> (8 * i));
  FILE *f = fdopen(fd, "wb");
  fwrite(len, 1, 8, f);
  fwrite(header, 1, hl, f);
  for (size_t i = 0; i < data; i++) fputc(0, f);
  fclose(f);
  hx_safetensors *st = NULL;
  int rc = hx_safetensors_open(path, &st, err);
  if (rc == 0) hx_safetensors_close(st);
  else assert_non_null(strstr(err->msg, path));
  unlink(path);
  return rc;
}

static void test_damage(void **s) {
  (void)s;
  hx_err err = {0};
  assert_int_equal(open_made("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, 0, &err), 0);
  assert_int_equal(open_made("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                             "\"__metadata__\":{\"format\":\"pt\"}}", 16, 0, &err), 0);
  /* length longer than the file */
  assert_int_equal(open_made("{}", 0, 1000, &err), HX_ECORRUPT);
  /* not JSON, not an object */
  assert_int_equal(open_made("{\"a\":", 0, 0, &err), HX_ECORRUPT);
  assert_int_equal(open_made("[1, 2]", 0, 0, &err), HX_ECORRUPT);
  /* data beyond the end */
  assert_int_equal(open_made("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 8, 0, &err), HX_ECORRUPT);
  assert_non_null(strstr(err.msg, "outside"));
  /* size does not match the shape */
  assert_int_equal(open_made("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", 16, 0, &err), HX_ECORRUPT);
  /* unknown dtype, missing fields, negative dims, reversed offsets */
  assert_int_equal(open_made("{\"a\":{\"dtype\":\"F31\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, 0, &err), HX_ECORRUPT);
  assert_int_equal(open_made("{\"a\":{\"shape\":[4],\"data_offsets\":[0,16]}}", 16, 0, &err), HX_ECORRUPT);
  assert_int_equal(open_made("{\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", 16, 0, &err), HX_ECORRUPT);
  assert_int_equal(open_made("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,0]}}", 16, 0, &err), HX_ECORRUPT);
  assert_int_equal(open_made("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}", 16, 0, &err), HX_ECORRUPT);
  /* overlapping tensors, duplicate names */
  assert_int_equal(open_made("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, 0, &err), HX_ECORRUPT);
  assert_non_null(strstr(err.msg, "overlap"));
  assert_int_equal(open_made("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, 0, &err), HX_ECORRUPT);
  /* shorter than the length prefix */
  char path[] = "/tmp/hx-embed-test-st-XXXXXX";
  int fd = mkstemp(path);
  assert_true(write(fd, "abc", 3) == 3);
  close(fd);
  hx_safetensors *st = NULL;
  assert_int_equal(hx_safetensors_open(path, &st, &err), HX_ECORRUPT);
  unlink(path);
  assert_int_equal(hx_safetensors_open("/nonexistent/model.safetensors", &st, &err), HX_ENOENT);
  assert_non_null(strstr(err.msg, "/nonexistent/model.safetensors"));
}

static void test_half_conversions(void **s) {
  (void)s;
  assert_true(hx_f16_to_f32(0x3c00) == 1.0f);
  assert_true(hx_f16_to_f32(0xc000) == -2.0f);
  assert_true(hx_f16_to_f32(0x7bff) == 65504.0f);
  assert_true(hx_f16_to_f32(0x0001) == ldexpf(1.0f, -24));  /* smallest subnormal */
  assert_true(hx_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24));
  assert_true(hx_f16_to_f32(0x8000) == 0.0f && signbit(hx_f16_to_f32(0x8000)));
  assert_true(isinf(hx_f16_to_f32(0x7c00)));
  assert_true(isnan(hx_f16_to_f32(0x7e00)));
  assert_true(hx_f16_to_f32(0x3555) == 0.333251953125f);
  assert_true(hx_bf16_to_f32(0x3f80) == 1.0f);
  assert_true(hx_bf16_to_f32(0xc049) == -3.140625f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fixture_opens),
    cmocka_unit_test(test_damage),
    cmocka_unit_test(test_half_conversions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
