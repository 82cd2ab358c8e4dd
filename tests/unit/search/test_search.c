/*
 * test_search.c - the search part on its own: the BM25 sparse encoder (term
 * ids and weights against values computed independently in Python, Unicode
 * normalisation, CJK unigrams + bigrams), RRF and DBSF fusion against hand
 * computations, MMR (lambda 1 = the relevance order, lower lambda = more
 * diverse, penalties), the request parser's errors, and the LRU query cache.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "search/search.h"
#include "search/search_int.h"
#include "vec/vec.h"
#include "search/sparse.h"

/* ---- sparse encoder ---- */

static float weight_of(const hx_sparse *s, uint32_t id) {
  for (uint32_t i = 0; i < s->n; i++)
    if (s->idx[i] == id) return s->val[i];
  return 0;
}

static void enc(const char *t, int query, hx_sparse *s) {
  hx_err err = {0};
  int rc = hx_sparse_encode(t, strlen(t), query, s, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(rc, 0);
}

static void test_term_ids(void **st) {
  (void)st;
  /* FNV-1a 32 computed in Python */
  assert_int_equal(hx_sparse_term_id("a", 1), 0xe40c292c);
  assert_int_equal(hx_sparse_term_id("cafe", 4), 0xb7098e48);
  assert_int_equal(hx_sparse_term_id("fox", 3), 0xb6f3934e);
  hx_sparse s;
  enc("Café", 1, &s);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.idx[0], 0xb7098e48);
  assert_true(s.val[0] == 1.0f);
  hx_sparse_release(&s);
  /* case, accents, compatibility forms all meet */
  const char *same[] = {"CAFE", "cafe", "café", "CAFÉ", "ｃａｆｅ", "Cafe\u0301"};
  for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
    enc(same[i], 1, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.idx[0], 0xb7098e48);
    hx_sparse_release(&s);
  }
  enc("Straße", 1, &s);   /* full case folding: ß -> ss */
  assert_int_equal(s.n, 1);
  assert_int_equal(s.idx[0], 0x0581a214);
  hx_sparse_release(&s);
}

static void test_bm25_weights(void **st) {
  (void)st;
  hx_sparse s;
  /* "fox fox dog": dl = 3; tf(fox) = 2, tf(dog) = 1 (values from Python) */
  enc("Fox, fox... dog!", 0, &s);
  assert_int_equal(s.n, 2);
  assert_true(s.idx[0] < s.idx[1]);
  assert_true(fabsf(weight_of(&s, 0xb6f3934e) - 1.890846583584014f) < 1e-6f);
  assert_true(fabsf(weight_of(&s, hx_sparse_term_id("dog", 3)) - 1.6578749058025624f) < 1e-6f);
  hx_sparse_release(&s);
  /* length normalisation: one "abc" among 200 terms */
  char buf[2000] = "abc";
  for (int i = 1; i < 200; i++) strcat(buf, " z");
  enc(buf, 0, &s);
  assert_int_equal(s.n, 2);
  assert_true(fabsf(weight_of(&s, 0x1a47e90b) - 0.7096774193548387f) < 1e-6f);
  hx_sparse_release(&s);
  /* the query side: 1 per distinct term */
  enc("fox fox dog", 1, &s);
  assert_int_equal(s.n, 2);
  assert_true(s.val[0] == 1.0f && s.val[1] == 1.0f);
  hx_sparse_release(&s);
  /* no terms: empty, not an error */
  enc(" ,.;!? ", 0, &s);
  assert_int_equal(s.n, 0);
  hx_sparse_release(&s);
  hx_err err = {0};
  assert_int_equal(hx_sparse_encode("a\xff", 2, 0, &s, &err), HX_EINVAL);
  assert_int_equal(err.status, 422);
}

static void test_cjk(void **st) {
  (void)st;
  hx_sparse s;
  enc("日本", 1, &s);   /* 日, 本, 日本 */
  assert_int_equal(s.n, 3);
  assert_true(weight_of(&s, 0x80d4e4fd) == 1.0f);
  assert_true(weight_of(&s, 0x19c00f89) == 1.0f);
  assert_true(weight_of(&s, 0x9f26ee51) == 1.0f);
  hx_sparse_release(&s);
  /* a word between ideographs breaks the bigram chain; latin words stay words */
  enc("日abc本", 1, &s);
  assert_int_equal(s.n, 3);
  assert_true(weight_of(&s, 0x9f26ee51) == 0);
  assert_true(weight_of(&s, 0x1a47e90b) == 1.0f);
  hx_sparse_release(&s);
  /* 東京は日本の首都です: 10 characters, 10 unigrams + 9 bigrams, all distinct but は/の... */
  enc("東京は日本の首都です", 0, &s);
  assert_int_equal(s.n, 19);
  hx_sparse_release(&s);
}

/* ---- fusion ---- */

static hx_search_cand cand(int id, int dr, float ds, int sr, float ss) {
  hx_search_cand c = {0};
  c.id.b[15] = (unsigned char)id;
  c.dense_rank = dr;
  c.dense_score = ds;
  c.sparse_rank = sr;
  c.sparse_score = ss;
  return c;
}

static void test_rrf(void **st) {
  (void)st;
  /* dense: 1, 2, 3; sparse: 3, 4 */
  hx_search_cand c[4] = {cand(1, 1, .9f, 0, 0), cand(2, 2, .8f, 0, 0), cand(3, 3, .7f, 1, 5), cand(4, 0, 0, 2, 4)};
  hx_search_fuse(c, 4, HX_FUSION_RRF, 60, 1, 1);
  assert_int_equal(c[0].id.b[15], 3);
  assert_true(fabs(c[0].score - (1.0 / 63 + 1.0 / 61)) < 1e-12);
  assert_int_equal(c[1].id.b[15], 1);
  assert_true(fabs(c[1].score - 1.0 / 61) < 1e-12);
  /* 4 (sparse rank 2) and 2 (dense rank 2) tie at 1/62: broken by id */
  assert_int_equal(c[2].id.b[15], 2);
  assert_int_equal(c[3].id.b[15], 4);
  assert_true(c[2].score == c[3].score);
  /* Qdrant's constant (1 / (2 + position from 0)) is rrf_k = 1 */
  hx_search_cand q[2] = {cand(1, 1, 0, 0, 0), cand(2, 0, 0, 1, 0)};
  hx_search_fuse(q, 2, HX_FUSION_RRF, 1, 1, 1);
  assert_true(q[0].score == 0.5 && q[1].score == 0.5);
}

static void test_dbsf(void **st) {
  (void)st;
  /* dense scores .9 .8 .7: mean .8, sample sd .1 -> lo .5, width .6;
   * sparse scores 5, 3: mean 4, sd sqrt(2) -> lo 4 - 3 sqrt 2, width 6 sqrt 2 */
  hx_search_cand c[4] = {cand(1, 1, .9f, 0, 0), cand(2, 2, .8f, 0, 0), cand(3, 3, .7f, 1, 5), cand(4, 0, 0, 2, 3)};
  hx_search_fuse(c, 4, HX_FUSION_DBSF, 60, 1, 1);
  double lo = 4 - 3 * sqrt(2), w = 6 * sqrt(2);
  double want3 = (0.7 - 0.5) / 0.6 + (5 - lo) / w, want1 = (0.9 - 0.5) / 0.6, want2 = (0.8 - 0.5) / 0.6,
         want4 = (3 - lo) / w;
  double want[4] = {want3, want1, want2, want4};
  int ids[4] = {3, 1, 2, 4};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(c[i].id.b[15], ids[i]);
    assert_true(fabs(c[i].score - want[i]) < 1e-6);
  }
  /* one point per list: sd 0 -> 0.5 each */
  hx_search_cand d[1] = {cand(1, 1, .3f, 1, 7)};
  hx_search_fuse(d, 1, HX_FUSION_DBSF, 60, 1, 1);
  assert_true(d[0].score == 1.0);
}

/* Weights scale each list's term: with dense weighing 0.1, the sparse
 * list's order wins where the lists disagree; weight 0 drops a list. */
static void test_weights(void **st) {
  (void)st;
  hx_search_cand c[3] = {cand(1, 1, .9f, 2, 3), cand(2, 2, .8f, 1, 5), cand(3, 3, .1f, 0, 0)};
  hx_search_fuse(c, 3, HX_FUSION_RRF, 60, 0.1, 1);
  assert_int_equal(c[0].id.b[15], 2);
  assert_true(fabs(c[0].score - (0.1 / 62 + 1.0 / 61)) < 1e-12);
  assert_int_equal(c[1].id.b[15], 1);
  assert_true(fabs(c[1].score - (0.1 / 61 + 1.0 / 62)) < 1e-12);
  hx_search_cand d[3] = {cand(1, 1, .9f, 2, 3), cand(2, 2, .8f, 1, 5), cand(3, 3, .1f, 0, 0)};
  hx_search_fuse(d, 3, HX_FUSION_DBSF, 60, 2, 0.5);
  /* dense .9 .8 .1: mean .6, sd sqrt(.19) ; sparse 3 5: mean 4, sd sqrt 2 */
  double dsd = sqrt(((.9 - .6) * (.9 - .6) + (.8 - .6) * (.8 - .6) + (.1 - .6) * (.1 - .6)) / 2), dlo = .6 - 3 * dsd;
  double slo = 4 - 3 * sqrt(2), sw = 6 * sqrt(2);
  double want1 = 2 * (.9 - dlo) / (6 * dsd) + 0.5 * (3 - slo) / sw, want2 = 2 * (.8 - dlo) / (6 * dsd) + 0.5 * (5 - slo) / sw;
  assert_int_equal(d[0].id.b[15], want1 > want2 ? 1 : 2);
  assert_true(fabs(d[0].score - (want1 > want2 ? want1 : want2)) < 1e-5);
  hx_search_cand e[3] = {cand(1, 1, .9f, 2, 3), cand(2, 2, .8f, 1, 5), cand(3, 3, .1f, 0, 0)};
  hx_search_fuse(e, 3, HX_FUSION_RRF, 60, 0, 1);
  assert_int_equal(e[0].id.b[15], 2);
  assert_int_equal(e[1].id.b[15], 1);
  assert_true(e[2].score == 0);
}

/* ---- MMR ---- */

enum { N = 6, D = 3 };

static void mmr_set(hx_search_cand *c) {
  /* two tight clusters: 0,1,2 near x; 3,4,5 near y; relevance descending */
  static const float v[N][D] = {{1, 0, 0}, {.99f, .1f, 0}, {.98f, .0f, .2f}, {0, 1, 0}, {.1f, .99f, 0}, {0, .98f, .2f}};
  for (int i = 0; i < N; i++) {
    c[i] = cand(i, i + 1, 1.0f - (float)i * .05f, 0, 0);
    c[i].score = c[i].dense_score;
    c[i].vec = malloc(D * sizeof(float));
    memcpy(c[i].vec, v[i], sizeof v[i]);
    c[i].dim = D;
  }
}

static double mean_pairwise(const hx_search_cand *c, int k) {
  double s = 0;
  int n = 0;
  for (int i = 0; i < k; i++)
    for (int j = i + 1; j < k; j++, n++) {
      double d = 0, na = 0, nb = 0;
      for (int t = 0; t < D; t++) d += c[i].vec[t] * c[j].vec[t], na += c[i].vec[t] * c[i].vec[t], nb += c[j].vec[t] * c[j].vec[t];
      s += d / sqrt(na * nb);
    }
  return s / n;
}

static void test_mmr(void **st) {
  (void)st;
  hx_search_cand c[N];
  mmr_set(c);
  assert_int_equal(hx_search_mmr(c, N, 3, 1.0f), 0);
  for (int i = 0; i < N; i++) assert_int_equal(c[i].id.b[15], i);   /* lambda 1: relevance order */
  double plain = mean_pairwise(c, 3);
  hx_search_cands_release(c, N);
  mmr_set(c);
  assert_int_equal(hx_search_mmr(c, N, 3, 0.3f), 0);
  /* the best first, then the other cluster's best, then back */
  assert_int_equal(c[0].id.b[15], 0);
  assert_int_equal(c[1].id.b[15], 3);
  assert_true(c[0].mmr_penalty == 0);
  assert_true(fabs(c[1].mmr_penalty) < 1e-9);                        /* orthogonal to the first */
  assert_true(c[2].mmr_penalty > 0.5 && c[2].mmr_penalty <= 0.7 + 1e-9);   /* a near-duplicate of a pick */
  double diverse = mean_pairwise(c, 3);
  assert_true(diverse < plain);
  /* k = 0 and k > n are fine */
  assert_int_equal(hx_search_mmr(c, N, 0, 0.5f), 0);
  assert_int_equal(hx_search_mmr(c, N, 99, 0.5f), 0);
  hx_search_cands_release(c, N);
}

/* ---- request parser ---- */

static json_t *parse_err(const char *body, int *rc, hx_err *err, hx_search_plan *p) {
  json_t *b = json_loads(body, 0, NULL), *errors = NULL;
  assert_non_null(b);
  *rc = hx_search_plan_parse(b, 4, NULL, p, &errors, err);
  if (!*rc) hx_search_plan_release(p);
  json_decref(b);
  return errors;
}

static void test_plan(void **st) {
  (void)st;
  hx_search_plan p;
  hx_err err = {0};
  int rc;
  json_t *b = json_loads("{\"query_text\":\"hi\",\"asset_id\":\"a\",\"filter\":{\"must\":[{\"key\":\"k\",\"match\":{\"value\":1}}]},"
                         "\"mode\":\"hybrid\",\"fusion\":\"dbsf\",\"rrf_k\":2,\"mmr\":{\"lambda\":0.25},\"offset\":5,"
                         "\"limit\":7,\"score_threshold\":0.5,\"explain\":true}", 0, NULL), *errors = NULL;
  assert_int_equal(hx_search_plan_parse(b, 4, NULL, &p, &errors, &err), 0);
  assert_string_equal(p.query_text, "hi");
  assert_int_equal(p.mode, HX_SEARCH_HYBRID);
  assert_int_equal(p.fusion, HX_FUSION_DBSF);
  assert_int_equal(p.rrf_k, 2);
  assert_true(p.mmr && p.mmr_lambda == 0.25f && p.mmr_candidates == 100);
  assert_int_equal(p.limit, 7);
  assert_int_equal(p.offset, 5);
  assert_true(p.has_threshold && p.threshold == 0.5f && p.explain && !p.with_vector);
  /* client filter ANDed with the asset */
  json_t *must = json_object_get(p.filter, "must");
  assert_int_equal(json_array_size(must), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(must, 1), "key")), "asset_id");
  hx_search_plan_release(&p);
  json_decref(b);

  /* defaults; a raw vector needs no text in dense mode */
  errors = parse_err("{\"vector\":[1,2,3,4]}", &rc, &err, &p);
  assert_int_equal(rc, 0);
  assert_null(errors);

  errors = parse_err("{\"query_text\":\" \\u3000\\n\"}", &rc, &err, &p);
  assert_int_equal(rc, HX_EBADREQ);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.msg, "query_text cannot be empty");

  errors = parse_err("{\"query_text\":\"x\",\"limit\":101,\"vector\":[1,2],\"mmr\":{\"lambda\":2},\"mode\":\"x\","
                     "\"filter\":{\"should\":[{\"key\":\"a\",\"range\":{\"gt\":\"b\"}}]},\"explain\":1}", &rc, &err, &p);
  assert_int_equal(rc, HX_EINVAL);
  assert_int_equal(json_array_size(errors), 6);
  const char *want[][2] = {{"limit", "less_than_equal"}, {"mode", "enum"}, {"explain", "bool_type"},
                           {"vector", "value_error"}, {"mmr", "less_than_equal"}, {"filter", "value_error"}};
  for (size_t i = 0; i < 6; i++) {
    json_t *e = json_array_get(errors, i);
    assert_string_equal(json_string_value(json_array_get(json_object_get(e, "loc"), 1)), want[i][0]);
    assert_string_equal(json_string_value(json_object_get(e, "type")), want[i][1]);
  }
  /* the filter error's loc is the path inside the filter */
  json_t *floc = json_object_get(json_array_get(errors, 5), "loc");
  assert_int_equal(json_array_size(floc), 6);
  assert_string_equal(json_string_value(json_array_get(floc, 2)), "should");
  assert_int_equal(json_integer_value(json_array_get(floc, 3)), 0);
  assert_string_equal(json_string_value(json_array_get(floc, 4)), "range");
  assert_string_equal(json_string_value(json_array_get(floc, 5)), "gt");
  json_decref(errors);

  /* an empty filter ANDed with segment_id: {} matches all, it is not nested as a
   * condition (fuzz_search_plan found that the store refused {"must":[{}, ...]}) */
  json_t *eb = json_loads("{\"vector\":[1,2,3,4],\"segment_id\":\"s\",\"filter\":{}}", 0, NULL);
  assert_int_equal(hx_search_plan_parse(eb, 4, NULL, &p, &errors, &err), 0);
  hx_vec_filter *ef = NULL;
  assert_int_equal(hx_vec_filter_parse(p.filter, &ef, &err), 0);
  hx_vec_filter_free(ef);
  assert_int_equal(json_array_size(json_object_get(p.filter, "must")), 1);
  hx_search_plan_release(&p);
  json_decref(eb);

  /* sparse and hybrid need the text */
  errors = parse_err("{\"vector\":[1,2,3,4],\"mode\":\"sparse\"}", &rc, &err, &p);
  assert_int_equal(rc, HX_EINVAL);
  assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "type")), "missing");
  json_decref(errors);
}

/* ---- query cache ---- */

static void test_cache(void **st) {
  (void)st;
  hx__qcache *c = NULL;
  assert_int_equal(hx__qcache_new(2, &c), 0);
  float v[2] = {1, 2}, out[2];
  assert_int_equal(hx__qcache_get(c, "m", "v1", "a", out, 2), 0);
  hx__qcache_put(c, "m", "v1", "a", v, 2);
  assert_int_equal(hx__qcache_get(c, "m", "v1", "a", out, 2), 1);
  assert_true(out[0] == 1 && out[1] == 2);
  /* the key is (model, version, text): none of them may be mistaken for another */
  assert_int_equal(hx__qcache_get(c, "m", "v2", "a", out, 2), 0);
  assert_int_equal(hx__qcache_get(c, "mv", "1", "a", out, 2), 0);
  v[0] = 3;
  hx__qcache_put(c, "m", "v1", "b", v, 2);
  assert_int_equal(hx__qcache_get(c, "m", "v1", "a", out, 2), 1);   /* a is now the most recent */
  hx__qcache_put(c, "m", "v1", "c", v, 2);                         /* evicts b, the least recent */
  assert_int_equal(hx__qcache_size(c), 2);
  assert_int_equal(hx__qcache_get(c, "m", "v1", "b", out, 2), 0);
  assert_int_equal(hx__qcache_get(c, "m", "v1", "a", out, 2), 1);
  assert_int_equal(hx__qcache_get(c, "m", "v1", "c", out, 2), 1);
  assert_true(out[0] == 3);
  hx__qcache_free(c);
  /* capacity 0: no cache, never a hit */
  assert_int_equal(hx__qcache_new(0, &c), 0);
  assert_null(c);
  hx__qcache_put(c, "m", "v1", "a", v, 2);
  assert_int_equal(hx__qcache_get(c, "m", "v1", "a", out, 2), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_term_ids), cmocka_unit_test(test_bm25_weights), cmocka_unit_test(test_cjk),
      cmocka_unit_test(test_rrf),      cmocka_unit_test(test_dbsf),
    cmocka_unit_test(test_weights),         cmocka_unit_test(test_mmr),
      cmocka_unit_test(test_plan),     cmocka_unit_test(test_cache),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
