/*
 * test_fuzz.c - deterministic fuzzing of the filter parser and the log/record
 * decoders (targets in fuzz_vec.h): seeded byte mutations of the seed filters
 * in fuzz/filter_seeds and of a real log image written by the engine, and
 * random record payloads applied to a scratch database. Passing means no
 * crash (run under ASan/UBSan in the sanitizer build to catch memory errors).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "unit/vec/fuzz_vec.h"
#include "unit/vec/vt.h"

static void mutate(uint8_t *b, size_t *n, size_t cap) {
  int k = 1 + (int)(vt_next() % 4);
  static const char *tok[] = {"\"must\"", "[", "]", "{", "}", ",", ":", "null", "\"key\"", "1e999", "-1", "\"\"", "[]"};
  for (int i = 0; i < k && *n; i++) {
    size_t at = vt_next() % *n;
    switch (vt_next() % 4) {
    case 0: b[at] = (uint8_t)vt_next(); break;
    case 1: memmove(b + at, b + at + 1, *n - at - 1); (*n)--; break;
    case 2: *n = at; break;
    default: {
      const char *t = tok[vt_next() % (sizeof tok / sizeof *tok)];
      size_t tl = strlen(t);
      if (*n + tl >= cap) break;
      memmove(b + at + tl, b + at, *n - at);
      memcpy(b + at, t, tl);
      *n += tl;
    }
    }
  }
}

static void test_fuzz_filter(void **st) {
  (void)st;
  vt_seed(123);
  DIR *d = opendir("tests/unit/vec/fuzz/filter_seeds");
  assert_non_null(d);
  struct dirent *de;
  int seeds = 0;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char path[600];
    snprintf(path, sizeof path, "tests/unit/vec/fuzz/filter_seeds/%s", de->d_name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t seed[4096];
    size_t sn = fread(seed, 1, sizeof seed, f);
    fclose(f);
    seeds++;
    /* the seed itself must parse */
    json_t *j = json_loadb((const char *)seed, sn, 0, NULL);
    hx_vec_filter *flt;
    hx_err e = {0};
    assert_non_null(j);
    assert_int_equal(hx_vec_filter_parse(j, &flt, &e), 0);
    hx_vec_filter_free(flt);
    json_decref(j);
    for (int it = 0; it < 3000; it++) {
      uint8_t b[8192];
      size_t n = sn;
      memcpy(b, seed, sn);
      mutate(b, &n, sizeof b);
      fuzz_filter(b, n);
    }
  }
  closedir(d);
  assert_true(seeds >= 4);
}

static void test_fuzz_log(void **st) {
  (void)st;
  vt_seed(456);
  char *dir = vt_tmpdir();
  hx_vec *db;
  hx_err e = {0};
  assert_int_equal(hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1}, &db, &e), 0);
  hx_vec_dense_cfg dc = {.name = "", .dim = 4, .distance = HX_VEC_COSINE};
  hx_vec_sparse_cfg sc = {.name = "s", .idf = 1};
  assert_int_equal(hx_vec_collection_create(db, "c", &(hx_vec_collection_cfg){.dense = &dc, .ndense = 1, .sparse = &sc, .nsparse = 1}, &e), 0);
  assert_int_equal(hx_vec_index_create(db, "c", "k", HX_VEC_INDEX_KEYWORD, &e), 0);
  for (int i = 0; i < 20; i++) {
    float v[4] = {1, (float)i, 2, 3};
    uint32_t si[2] = {(uint32_t)i, 7};
    float sv[2] = {1, 2};
    hx_vec_dense dv = {.v = v, .dim = 4};
    hx_vec_sparse sp = {.name = "s", .idx = si, .val = sv, .n = 2};
    json_t *p = json_pack("{s:s}", "k", i % 2 ? "x" : "y");
    hx_vec_point pt = {.id = hx_vec_id_num((uint64_t)i), .dense = &dv, .ndense = 1, .sparse = &sp, .nsparse = 1, .payload = p};
    assert_int_equal(hx_vec_upsert(db, "c", "t", &pt, 1, &e), 0);
    json_decref(p);
  }
  /* the raw log image as written */
  char wal[600];
  snprintf(wal, sizeof wal, "%s/wal.log", dir);
  FILE *f = fopen(wal, "rb");
  assert_non_null(f);
  static uint8_t img[1 << 16], b[1 << 16];
  size_t n = fread(img, 1, sizeof img, f);
  fclose(f);
  size_t valid;
  uint64_t last;
  assert_int_equal(hx__wal_parse(img, n, &valid, &last, NULL, NULL), 0);
  assert_int_equal(valid, n);
  for (int it = 0; it < 3000; it++) {
    size_t m = n;
    memcpy(b, img, n);
    mutate(b, &m, sizeof b);
    fuzz_wal(db, b, m);
  }
  /* record payloads: take real records, mutate, apply (decoders must reject
   * or apply cleanly, and the database must stay consistent) */
  size_t off = 32;
  int recs = 0;
  while (off + 24 <= n) {
    uint32_t len;
    memcpy(&len, img + off + 8, 4);
    uint8_t type = img[off + 5];
    for (int it = 0; it < 300; it++) {
      size_t m = len + 1;
      b[0] = type;
      memcpy(b + 1, img + off + 20, len);
      mutate(b + 1, &m, sizeof b - 1);
      fuzz_record(db, b, m);
    }
    off += 24 + len;
    recs++;
  }
  assert_true(recs >= 20);
  assert_int_equal(hx_vec_check(db, &e), 0);
  hx_vec_close(db);
  vt_rmdir(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_fuzz_filter), cmocka_unit_test(test_fuzz_log)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
