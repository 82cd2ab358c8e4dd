/*
 * fuzz_vec.h - fuzz targets of the vector engine's two parsers of untrusted
 * bytes: the filter JSON compiler and the log/record decoders. Each target
 * takes arbitrary bytes and must never crash, leak or read out of bounds.
 * test_fuzz.c drives them with seeded mutations of the seeds in fuzz/; a
 * libFuzzer build can use them directly:
 *   clang -fsanitize=fuzzer,address -DHX_VEC_LIBFUZZER -Isrc -Itests \
 *     -x c tests/unit/vec/fuzz_vec.h <hxcore sources> -ljansson
 * with -dict=tests/unit/vec/fuzz/filter.dict.
 */
#ifndef HX_TEST_VEC_FUZZ_H
#define HX_TEST_VEC_FUZZ_H

#include <stdint.h>
#include <string.h>

#include "vec/vec_int.h"

static const char *const fuzz_payloads[] = {
    "{\"a\":1,\"b\":\"x\",\"c\":[1,2,{\"d\":null}],\"e\":{\"f\":[true,false]}}",
    "{}",
    "{\"a\":[],\"b\":null,\"n\":{\"a\":{\"b\":[{\"c\":3}]}}}",
};

static inline int fuzz_filter(const uint8_t *data, size_t n) {
  json_t *j = json_loadb((const char *)data, n, 0, NULL);
  if (!j) return 0;
  hx_vec_filter *f = NULL;
  hx_err e = {0};
  if (!hx_vec_filter_parse(j, &f, &e)) {
    for (size_t i = 0; i < sizeof fuzz_payloads / sizeof *fuzz_payloads; i++) {
      json_t *p = json_loads(fuzz_payloads[i], 0, NULL);
      hx_vec_id id = hx_vec_id_num(i);
      (void)hx_vec_filter_match(f, &id, p);
      json_decref(p);
    }
  } else if (!e.msg[0]) {
    __builtin_trap(); /* every rejection must say why */
  }
  hx_vec_filter_free(f);
  json_decref(j);
  return 0;
}

/* Log image: parse, and apply each "valid" record to a scratch database so the
 * record decoders see arbitrary payloads too (the CRC is recomputed by the
 * driver for mutated payloads, see test_fuzz.c). */
static inline int fuzz_wal(hx_vec *scratch, const uint8_t *data, size_t n) {
  size_t valid;
  uint64_t last;
  (void)hx__wal_parse(data, n, &valid, &last, NULL, NULL);
  if (valid > n) __builtin_trap();
  return 0;
}

static inline int fuzz_record(hx_vec *scratch, const uint8_t *data, size_t n) {
  if (n < 1) return 0;
  (void)hx__apply(scratch, 1000, (uint8_t)(data[0] % 9), data + 1, n - 1);
  return 0;
}

#ifdef HX_VEC_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) { return fuzz_filter(data, n); }
#endif

#endif
