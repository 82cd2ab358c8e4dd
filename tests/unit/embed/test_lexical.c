/* test_lexical.c - the built-in lexical embedder (determinism, unit norm,
 * lexical overlap ranks first) and the model listing / default choice. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "embed/embed.h"
#include "embed/lexical.h"
#include "unit/embed/fixture.h"

#define DIM 384

static float cosine(const float *a, const float *b) {
  double d = 0;
  for (int i = 0; i < DIM; i++) d += (double)a[i] * b[i];
  return (float)d; /* unit vectors */
}

static void emb(hx_embedder *e, const char *t, float *v) {
  hx_err err = {0};
  int rc = hx_embedder_embed(e, &t, NULL, 1, v, NULL, NULL, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(rc, 0);
}

static void test_shape_and_determinism(void **s) {
  (void)s;
  hx_embedder *e = NULL;
  hx_err err = {0};
  float a[DIM], b[DIM];
  assert_int_equal(hx_embedder_open(NULL, "lexical", DIM, &e, &err), 0);
  const hx_model_info *mi = hx_embedder_info(e);
  assert_string_equal(mi->name, "lexical");
  assert_string_equal(mi->version, "v1");
  assert_string_equal(mi->kind, "lexical");
  assert_int_equal(mi->dim, DIM);
  emb(e, "Quarterly revenue grew 12% in Europe.", a);
  emb(e, "Quarterly revenue grew 12% in Europe.", b);
  assert_memory_equal(a, b, sizeof a);
  double n = 0;
  for (int i = 0; i < DIM; i++) n += (double)a[i] * a[i];
  assert_true(fabs(n - 1.0) < 1e-5);
  /* case-insensitive */
  emb(e, "QUARTERLY REVENUE grew 12% in europe", b);
  assert_true(cosine(a, b) > 0.999f);
  hx_embedder_free(e);
}

/* Golden value pinned from the definition in lexical.h: "ab" has the word
 * feature "w:ab" and grams "c:<ab", "c:ab>", "c:<ab>" (3..5 over "<ab>"). */
static uint64_t fnv(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static void test_definition(void **s) {
  (void)s;
  float v[DIM], want[DIM] = {0};
  const char *f[] = {"w:ab", "c:<ab", "c:ab>", "c:<ab>"};
  float w[] = {1.0f, 0.4f, 0.4f, 0.4f};
  assert_int_equal(hx_lexical_embed("ab", 2, DIM, v, NULL, NULL), 0);
  double n = 0;
  for (int i = 0; i < 4; i++) {
    uint64_t h = fnv(f[i]);
    want[h % DIM] += (h >> 63) ? -w[i] : w[i];
  }
  for (int i = 0; i < DIM; i++) n += (double)want[i] * want[i];
  for (int i = 0; i < DIM; i++) assert_true(fabsf(v[i] - (float)(want[i] / sqrt(n))) < 1e-6f);
}

static void test_similarity_ranks(void **s) {
  (void)s;
  hx_embedder *e = NULL;
  hx_err err = {0};
  float q[DIM], rel[DIM], rel2[DIM], unrel[DIM], unrel2[DIM];
  assert_int_equal(hx_embedder_open(NULL, "lexical", DIM, &e, &err), 0);
  emb(e, "how to reset my password", q);
  emb(e, "To reset your password, open settings and choose reset password.", rel);
  emb(e, "password resets", rel2);
  emb(e, "The weather in Lisbon is sunny with mild winds.", unrel);
  emb(e, "Quarterly revenue grew in Europe", unrel2);
  fprintf(stderr, "cos rel %.3f rel2 %.3f unrel %.3f unrel2 %.3f\n", cosine(q, rel), cosine(q, rel2),
          cosine(q, unrel), cosine(q, unrel2));
  assert_true(cosine(q, rel) > 0.3f);
  assert_true(cosine(q, rel2) > 0.2f);
  assert_true(cosine(q, rel) > cosine(q, unrel) + 0.2f);
  assert_true(cosine(q, rel2) > cosine(q, unrel2) + 0.15f);
  assert_true(fabsf(cosine(q, unrel)) < 0.15f);
  hx_embedder_free(e);
}

static void test_errors(void **s) {
  (void)s;
  hx_embedder *e = NULL;
  hx_err err = {0};
  float v[DIM];
  assert_int_equal(hx_embedder_open(NULL, "lexical", 0, &e, &err), HX_EINVAL);
  assert_int_equal(hx_embedder_open(NULL, "lexical", DIM, &e, &err), 0);
  static const char *bad[] = {"", "   \t\n", "!!! ...", "\xff\xfe"};
  for (int i = 0; i < 4; i++) {
    memset(&err, 0, sizeof err);
    assert_int_equal(hx_embedder_embed(e, &bad[i], NULL, 1, v, NULL, NULL, &err), HX_EINVAL);
    assert_int_equal(err.status, 422);
  }
  const char *cjk = "\xe4\xb8\xad\xe6\x96\x87 caf\xc3\xa9";
  int nt = 0, tr = -1;
  assert_int_equal(hx_embedder_embed(e, &cjk, NULL, 1, v, &nt, &tr, &err), 0);
  assert_int_equal(nt, 2);
  assert_int_equal(tr, 0);
  hx_embedder_free(e);
}

static void test_threads_for(void **s) {
  (void)s;
  unsetenv("HEIMDEX_EMBED_THREADS");
  int one = hx_embed_threads_for(1);
  assert_true(one >= 1);
  assert_int_equal(hx_embed_threads_for(1000), 1);
  assert_int_equal(hx_embed_threads_for(2), one / 2 > 0 ? one / 2 : 1);
  setenv("HEIMDEX_EMBED_THREADS", "3", 1);
  assert_int_equal(hx_embed_threads_for(8), 3);
  unsetenv("HEIMDEX_EMBED_THREADS");
}

static void test_models_list(void **s) {
  (void)s;
  hx_model_info *v = NULL;
  size_t n = 0;
  hx_err err = {0};
  char def[64];
  /* fixture dir: four BERT models + lexical; default = first BERT by name */
  assert_int_equal(hx_models_list("tests/embed", DIM, &v, &n, &err), 0);
  assert_int_equal(n, 5);
  assert_string_equal(v[0].name, "tiny-bert");
  assert_string_equal(v[0].kind, "bert");
  assert_int_equal(v[0].dim, 32);
  assert_int_equal(v[0].max_tokens, 24);
  assert_int_equal(v[0].is_default, 1);
  /* its Dense modules make tiny-bert-dense 24-dimensional */
  assert_string_equal(v[2].name, "tiny-bert-dense");
  assert_int_equal(v[2].dim, 24);
  assert_string_equal(v[4].name, "lexical");
  assert_int_equal(v[4].dim, DIM);
  assert_int_equal(v[4].is_default, 0);
  free(v);
  assert_int_equal(hx_models_default("tests/embed", def, sizeof def, &err), 0);
  assert_string_equal(def, "tiny-bert");
  /* nothing installed: lexical is the default */
  assert_int_equal(hx_models_list("/nonexistent", DIM, &v, &n, &err), 0);
  assert_int_equal(n, 1);
  assert_string_equal(v[0].name, "lexical");
  assert_int_equal(v[0].is_default, 1);
  free(v);
  assert_int_equal(hx_models_default(NULL, def, sizeof def, &err), 0);
  assert_string_equal(def, "lexical");
  /* an installed MiniLM directory is listed under its alias and is default */
  char models[256], dir[512];
  fix_scratch(FIX_F32, "all-MiniLM-L6-v2", models, sizeof models, dir, sizeof dir);
  snprintf(dir, sizeof dir, "%s/zzz-model", models);
  fix_copy_tree(FIX_F32, dir);
  assert_int_equal(hx_models_list(models, DIM, &v, &n, &err), 0);
  assert_int_equal(n, 3);
  assert_string_equal(v[0].name, "minilm-l6-v2");
  assert_int_equal(v[0].is_default, 1);
  assert_int_equal(v[1].is_default, 0);
  free(v);
  hx_model_info mi;
  assert_int_equal(hx_model_describe(models, "minilm-l6-v2", DIM, &mi, &err), 0);
  assert_string_equal(mi.name, "minilm-l6-v2");
  assert_int_equal(mi.dim, 32);
  assert_int_equal(mi.max_tokens, 24);
  assert_int_equal(mi.is_default, 1);
  assert_int_equal(hx_model_describe(models, "zzz-model", DIM, &mi, &err), 0);
  assert_int_equal(mi.is_default, 0);
  assert_int_equal(hx_model_describe(models, "lexical", DIM, &mi, &err), 0);
  assert_int_equal(mi.dim, DIM);
  assert_int_equal(hx_model_describe(models, "minilm-l12-v2", DIM, &mi, &err), HX_ENOENT);
  assert_int_equal(err.status, 400);
  assert_int_equal(hx_model_describe(models, "nope", DIM, &mi, &err), HX_ENOENT);
  hx_embedder *e = NULL;
  assert_int_equal(hx_embedder_open(models, "minilm-l6-v2", DIM, &e, &err), 0);
  assert_string_equal(hx_embedder_info(e)->name, "minilm-l6-v2");
  hx_embedder_free(e);
  fix_rm_tree(models);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_shape_and_determinism),
    cmocka_unit_test(test_definition),
    cmocka_unit_test(test_similarity_ranks),
    cmocka_unit_test(test_errors),
    cmocka_unit_test(test_models_list),
    cmocka_unit_test(test_threads_for),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
