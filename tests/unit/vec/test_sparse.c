/*
 * test_sparse.c - sparse vectors: dot-product scoring and the IDF modifier
 * against an independent computation (idf from the tenant's own live points,
 * ln(1 + (N - df + 0.5)/(df + 0.5))), after deletes, across a restart, with a
 * filter, and isolated from another tenant's term statistics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "unit/vec/vt.h"

enum { ND = 400, VOC = 60, MAXT = 12 };

typedef struct doc {
  uint32_t n, idx[MAXT];
  float val[MAXT];
  int live;
} doc;

static void gen(doc *d, int n) {
  for (int i = 0; i < n; i++) {
    d[i].n = 1 + (uint32_t)(vt_next() % MAXT);
    for (uint32_t k = 0; k < d[i].n; k++) {
      /* Zipf-ish: low term ids are common */
      double u = vt_unif();
      d[i].idx[k] = (uint32_t)(u * u * VOC);
      d[i].val[k] = 1.0f + (float)(vt_next() % 3);
    }
    d[i].live = 1;
  }
}

/* Independent scorer: duplicates within a doc are summed, as documented. */
static double score(const doc *docs, int n, const doc *q, int idf, int which) {
  double s = 0;
  const doc *d = &docs[which];
  for (uint32_t a = 0; a < q->n; a++) {
    double dw = 0;
    for (uint32_t b = 0; b < d->n; b++)
      if (d->idx[b] == q->idx[a]) dw += d->val[b];
    if (dw == 0) continue;
    double w = q->val[a];
    if (idf) {
      int N = 0, df = 0;
      for (int i = 0; i < n; i++) {
        if (!docs[i].live) continue;
        N++;
        for (uint32_t b = 0; b < docs[i].n; b++)
          if (docs[i].idx[b] == q->idx[a]) {
            df++;
            break;
          }
      }
      w *= log(1.0 + (N - df + 0.5) / (df + 0.5));
    }
    s += w * dw;
  }
  return s;
}

static void put_docs(hx_vec *db, const char *tenant, doc *d, int n) {
  hx_err e = {0};
  hx_vec_point *p = calloc((size_t)n, sizeof *p);
  hx_vec_sparse *sv = calloc((size_t)n * 2, sizeof *sv);
  for (int i = 0; i < n; i++) {
    sv[2 * i] = (hx_vec_sparse){.name = "bm25", .idx = d[i].idx, .val = d[i].val, .n = d[i].n};
    sv[2 * i + 1] = (hx_vec_sparse){.name = "raw", .idx = d[i].idx, .val = d[i].val, .n = d[i].n};
    p[i] = (hx_vec_point){.id = hx_vec_id_num((uint64_t)i), .sparse = &sv[2 * i], .nsparse = 2,
                          .payload = json_pack("{s:i}", "odd", i % 2)};
  }
  assert_int_equal(hx_vec_upsert(db, "s", tenant, p, (size_t)n, &e), 0);
  for (int i = 0; i < n; i++) json_decref(p[i].payload);
  free(p);
  free(sv);
}

static void check_queries(hx_vec *db, const doc *docs, int n, int idf, const hx_vec_filter *f) {
  hx_err e = {0};
  for (int qi = 0; qi < 30; qi++) {
    doc q;
    gen(&q, 1);
    hx_vec_hit h[10];
    size_t nh;
    assert_int_equal(hx_vec_search(db, "s", "t1", &(hx_vec_query){.vector = idf ? "bm25" : "raw", .sp_idx = q.idx, .sp_val = q.val, .sp_n = q.n, .limit = 10, .filter = f}, h, &nh, &e), 0);
    /* golden: every live doc's score, top 10 */
    double best[10];
    int nb = 0;
    for (int i = 0; i < n; i++) {
      if (!docs[i].live || (f && i % 2 == 0)) continue;
      double s = score(docs, n, &q, idf, i);
      if (s == 0) continue;
      if (nb == 10 && s <= best[9]) continue;
      int j = nb < 10 ? nb++ : 9;
      while (j > 0 && best[j - 1] < s) {
        best[j] = best[j - 1];
        j--;
      }
      best[j] = s;
    }
    assert_int_equal(nh, (size_t)nb);
    for (size_t i = 0; i < nh; i++) {
      assert_true(fabs(h[i].score - best[i]) < 1e-3 * (1 + best[i]));
      int id = (int)h[i].id.num;
      assert_true(docs[id].live);
      if (f) assert_int_equal(id % 2, 1);
      assert_true(fabs(score(docs, n, &q, idf, id) - h[i].score) < 1e-3 * (1 + best[i]));
    }
  }
}

static void test_sparse_idf(void **st) {
  (void)st;
  char *dir = vt_tmpdir();
  hx_vec *db;
  hx_err e = {0};
  vt_seed(31);
  assert_int_equal(hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1}, &db, &e), 0);
  hx_vec_sparse_cfg sc[2] = {{.name = "bm25", .idf = 1}, {.name = "raw", .idf = 0}};
  assert_int_equal(hx_vec_collection_create(db, "s", &(hx_vec_collection_cfg){.sparse = sc, .nsparse = 2}, &e), 0);
  static doc docs[ND], other[ND];
  gen(docs, ND);
  gen(other, ND);
  put_docs(db, "t1", docs, ND);
  /* another tenant's data must not change t1's idf */
  for (int i = 0; i < ND; i++) other[i].idx[0] = 0;
  put_docs(db, "t2", other, ND);
  check_queries(db, docs, ND, 1, NULL);
  check_queries(db, docs, ND, 0, NULL);
  /* deletes change N and df */
  hx_vec_id ids[100];
  for (int i = 0; i < 100; i++) {
    ids[i] = hx_vec_id_num((uint64_t)(i * 3));
    docs[i * 3].live = 0;
  }
  size_t del;
  assert_int_equal(hx_vec_delete(db, "s", "t1", ids, 100, &del, &e), 0);
  assert_int_equal(del, 100);
  check_queries(db, docs, ND, 1, NULL);
  json_t *fj = vt_json("{\"must\":[{\"key\":\"odd\",\"match\":{\"value\":1}}]}");
  hx_vec_filter *f;
  assert_int_equal(hx_vec_filter_parse(fj, &f, &e), 0);
  check_queries(db, docs, ND, 1, f);
  assert_int_equal(hx_vec_check(db, &e), 0);
  hx_vec_close(db);
  assert_int_equal(hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1}, &db, &e), 0);
  assert_int_equal(hx_vec_check(db, &e), 0);
  check_queries(db, docs, ND, 1, f);
  hx_vec_filter_free(f);
  json_decref(fj);
  /* unknown sparse vector name is a clear error */
  uint32_t i0 = 1;
  float v0 = 1;
  hx_vec_hit h[1];
  size_t nh;
  assert_int_equal(hx_vec_search(db, "s", "t1", &(hx_vec_query){.vector = "nope", .sp_idx = &i0, .sp_val = &v0, .sp_n = 1}, h, &nh, &e), HX_EINVAL);
  assert_non_null(strstr(e.msg, "no sparse vector named 'nope'"));
  hx_vec_close(db);
  vt_rmdir(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_sparse_idf)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
