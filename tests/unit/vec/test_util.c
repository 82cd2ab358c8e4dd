/*
 * test_util.c - the engine's private building blocks that the bigger tests
 * only reach indirectly: hx__sort_u32 (candidate lists of filtered searches)
 * against qsort on random, sorted, reversed, few-valued and full-range input,
 * at sizes around the insertion-sort cut-off and above the radix passes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "unit/vec/vt.h"
#include "vec/util_int.h"

static int cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void test_sort_u32(void **st) {
  (void)st;
  const size_t sizes[] = {0, 1, 2, 3, 17, 63, 64, 65, 1000, 10007, 70000};
  vt_seed(7);
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
    size_t n = sizes[si];
    uint32_t *v = malloc((n + 1) * sizeof *v), *w = malloc((n + 1) * sizeof *w);
    for (int kind = 0; kind < 5; kind++) {
      for (size_t i = 0; i < n; i++) {
        uint64_t r = vt_next();
        switch (kind) {
        case 0: v[i] = (uint32_t)(r % 1000000); break;          /* slot-like */
        case 1: v[i] = (uint32_t)i * 3; break;                  /* already sorted */
        case 2: v[i] = (uint32_t)(n - i); break;                /* reversed */
        case 3: v[i] = (uint32_t)(r % 5); break;                /* many duplicates */
        default: v[i] = (uint32_t)(r >> 32); break;             /* all 32 bits */
        }
      }
      if (kind == 1 && n > 2) v[n / 2] = 0; /* sorted but for one */
      memcpy(w, v, n * sizeof *v);
      qsort(w, n, sizeof *w, cmp);
      hx__sort_u32(v, n);
      for (size_t i = 0; i < n; i++)
        if (v[i] != w[i]) fail_msg("n %zu kind %d at %zu: %u != %u", n, kind, i, v[i], w[i]);
    }
    free(v);
    free(w);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_sort_u32)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
