/*
 * test_distance.c - every kernel set this CPU supports agrees with a double
 * precision reference for all lengths 0..130 and 384 (tails and masks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "unit/vec/vt.h"
#include "vec/distance.h"

static void test_kernels(void **st) {
  (void)st;
  const char *names[] = {"portable", "avx2", "avx512"};
  float a[400], b[400];
  uint8_t ca[400], cb[400];
  uint64_t wa[8], wb[8];
  vt_seed(3);
  for (int i = 0; i < 400; i++) {
    a[i] = (float)vt_gauss();
    b[i] = (float)vt_gauss();
    ca[i] = (uint8_t)vt_next();
    cb[i] = (uint8_t)vt_next();
  }
  for (int i = 0; i < 8; i++) {
    wa[i] = vt_next();
    wb[i] = vt_next();
  }
  int tested = 0;
  for (int k = 0; k < 3; k++) {
    const hx__vec_kernels *K = hx__vec_kernels_named(names[k]);
    if (!K) continue;
    tested++;
    for (size_t n = 0; n <= 384; n = n < 130 ? n + 1 : 384) {
      double dot = 0, l2 = 0;
      uint32_t du = 0, lu = 0;
      int32_t ds = 0;
      for (size_t i = 0; i < n; i++) {
        dot += (double)a[i] * b[i];
        l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        du += (uint32_t)ca[i] * cb[i];
        ds += (int32_t)ca[i] * (int8_t)cb[i];
        lu += (uint32_t)(((int)ca[i] - cb[i]) * ((int)ca[i] - cb[i]));
      }
      assert_true(fabs(K->dot(a, b, n) - dot) < 1e-3 * (1 + fabs(dot)));
      assert_true(fabs(K->l2(a, b, n) - l2) < 1e-3 * (1 + l2));
      assert_int_equal(K->dot_u8(ca, cb, n), du);
      assert_int_equal(K->l2_u8(ca, cb, n), lu);
      assert_int_equal(K->dot_u8s8(ca, (const int8_t *)cb, n), ds);
      if (n == 384) break;
    }
    for (size_t w = 0; w <= 8; w++) {
      uint32_t h = 0;
      for (size_t i = 0; i < w; i++) h += (uint32_t)__builtin_popcountll(wa[i] ^ wb[i]);
      assert_int_equal(K->hamming(wa, wb, w), h);
    }
  }
  assert_true(tested >= 1);
  assert_non_null(hx__vec_kernels_get());
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_kernels)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
