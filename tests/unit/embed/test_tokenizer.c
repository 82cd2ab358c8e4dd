/* test_tokenizer.c - the WordPiece tokenizer against ids produced by the
 * Python port of BertTokenizer in tests/embed/make_fixture.py, through both
 * loaders (vocab.txt + tokenizer_config.json, and tokenizer.json). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "embed/tokenizer.h"
#include "unit/embed/fixture.h"

static void check_reference(const char *dir) {
  hx_tokenizer *t = NULL;
  hx_err err = {0};
  int mml = 0;
  json_t *ref = fix_reference(dir);
  assert_non_null(ref);
  int rc = hx_tokenizer_load(dir, &t, &mml, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(rc, 0);
  int max_len = (int)json_integer_value(json_object_get(ref, "max_seq_length"));
  size_t i;
  json_t *c;
  int cases = 0;
  json_array_foreach(json_object_get(ref, "tokenizer"), i, c) {
    json_t *jt = json_object_get(c, "text");
    const char *text = json_string_value(jt);
    json_t *ids = json_object_get(c, "ids");
    int32_t got[64];
    int n = 0, tr = -1;
    rc = hx_tokenizer_encode(t, text, json_string_length(jt), max_len, got, &n, &tr, &err);
    assert_int_equal(rc, 0);
    int ok = n == (int)json_array_size(ids) &&
             tr == (int)json_integer_value(json_object_get(c, "truncated"));
    for (int k = 0; ok && k < n; k++) ok = got[k] == json_integer_value(json_array_get(ids, (size_t)k));
    if (!ok) {
      fprintf(stderr, "case %zu %s: want", i, dir);
      for (size_t k = 0; k < json_array_size(ids); k++)
        fprintf(stderr, " %lld", (long long)json_integer_value(json_array_get(ids, k)));
      fprintf(stderr, " (cut %lld), got", (long long)json_integer_value(json_object_get(c, "truncated")));
      for (int k = 0; k < n; k++) fprintf(stderr, " %d", got[k]);
      fprintf(stderr, " (cut %d)\n", tr);
    }
    assert_true(ok);
    cases++;
  }
  assert_true(cases >= 15);
  hx_tokenizer_free(t);
  json_decref(ref);
}

static void test_reference_vocab_txt(void **s) { (void)s; check_reference(FIX_F32); }
static void test_reference_tokenizer_json(void **s) { (void)s; check_reference(FIX_F16); }

static hx_tokenizer *small(int lower) {
  static const char *v[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello",
                            "!", "a", "##a", "é", "straße"};
  hx_tokenizer_opts o = {lower, -1, 0};
  hx_tokenizer *t = NULL;
  assert_int_equal(hx_tokenizer_new(v, sizeof v / sizeof v[0], &o, &t, NULL), 0);
  return t;
}

static void enc(hx_tokenizer *t, const char *s, int max_len, const int *want, int nwant, int cut) {
  int32_t got[300];
  int n = 0, tr = -1;
  hx_err err = {0};
  assert_int_equal(hx_tokenizer_encode(t, s, strlen(s), max_len, got, &n, &tr, &err), 0);
  assert_int_equal(n, nwant);
  for (int i = 0; i < n; i++) assert_int_equal(got[i], want[i]);
  assert_int_equal(tr, cut);
}

/* Hand-written expectations (ids of the vocabulary in small()). */
static void test_hand_cases(void **s) {
  (void)s;
  hx_tokenizer *t = small(1);
  enc(t, "UnAffable!", 16, (int[]){2, 4, 5, 6, 8, 3}, 6, 0);
  enc(t, "unaffable hello", 4, (int[]){2, 4, 5, 3}, 4, 2);       /* truncation by tokens */
  enc(t, "xyz", 8, (int[]){2, 1, 3}, 3, 0);                        /* no cover: [UNK] */
  enc(t, "unaffablex", 8, (int[]){2, 1, 3}, 3, 0);                 /* partial cover: whole word [UNK] */
  char longw[110];
  memset(longw, 'a', 101);
  longw[101] = 0;
  enc(t, longw, 8, (int[]){2, 1, 3}, 3, 0);                        /* > 100 chars */
  longw[100] = 0;
  int want[102];
  want[0] = 2;
  want[1] = 9;
  for (int i = 2; i <= 100; i++) want[i] = 10;
  want[101] = 3;
  enc(t, longw, 200, want, 102, 0);                                /* exactly 100: pieces */
  enc(t, " \t\n\xe3\x80\x80 ", 8, (int[]){2, 3}, 2, 0);            /* blank */
  enc(t, "", 8, (int[]){2, 3}, 2, 0);
  hx_tokenizer_free(t);
  t = small(0);                                                    /* cased: no accent strip */
  enc(t, "\xc3\xa9 Hello", 8, (int[]){2, 11, 1, 3}, 4, 0);
  hx_tokenizer_free(t);
}

static void test_invalid_utf8(void **s) {
  (void)s;
  hx_tokenizer *t = small(1);
  int32_t ids[16];
  int n;
  hx_err err = {0};
  static const char *bad[] = {"\xff", "ab\xc3", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(hx_tokenizer_encode(t, bad[i], strlen(bad[i]), 16, ids, &n, NULL, &err), HX_EINVAL);
    assert_non_null(strstr(err.msg, "UTF-8"));
  }
  hx_tokenizer_free(t);
}

static void test_missing_files(void **s) {
  (void)s;
  char models[256], dir[512], p[600];
  hx_tokenizer *t = NULL;
  hx_err err = {0};
  fix_scratch(FIX_F32, "m", models, sizeof models, dir, sizeof dir);
  snprintf(p, sizeof p, "%s/vocab.txt", dir);
  unlink(p);
  assert_int_equal(hx_tokenizer_load(dir, &t, NULL, &err), HX_ENOENT);
  assert_non_null(strstr(err.msg, "vocab.txt"));
  fix_write(p, "a\nb\n", 4);
  assert_int_equal(hx_tokenizer_load(dir, &t, NULL, &err), HX_ECORRUPT);
  assert_non_null(strstr(err.msg, "vocab.txt"));
  snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
  fix_write(p, "{oops", 5);
  assert_int_equal(hx_tokenizer_load(dir, &t, NULL, &err), HX_ECORRUPT);
  assert_non_null(strstr(err.msg, "tokenizer_config.json"));
  fix_write(p, "{}", 2);
  snprintf(p, sizeof p, "%s/tokenizer.json", dir);
  static const char tj[] = "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":5}}}";
  fix_write(p, tj, sizeof tj - 1);
  assert_int_equal(hx_tokenizer_load(dir, &t, NULL, &err), HX_ECORRUPT);
  assert_non_null(strstr(err.msg, "tokenizer.json"));
  fix_rm_tree(models);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reference_vocab_txt),
    cmocka_unit_test(test_reference_tokenizer_json),
    cmocka_unit_test(test_hand_cases),
    cmocka_unit_test(test_invalid_utf8),
    cmocka_unit_test(test_missing_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
