/*
 * test_recall.c - HNSW quality and safety: recall@10 against brute force for
 * each metric on random and clustered data, with filters (applied during graph
 * traversal and through the exact planner path), after deletes and re-upserts,
 * plus the graph integrity check; and searches running in threads while
 * another thread inserts and deletes.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "unit/vec/vt.h"

enum { N = 6000, DIM = 32, NQ = 100, K = 10 };

static hx_vec *open_dim(char **dir, hx_vec_distance dist, hx_vec_quant quant, uint32_t filter_exact_max, uint32_t dim) {
  hx_vec *db;
  hx_err e = {0};
  *dir = vt_tmpdir();
  assert_int_equal(hx_vec_open(*dir, &(hx_vec_opts){.no_fsync = 1, .filter_exact_max = filter_exact_max}, &db, &e), 0);
  hx_vec_dense_cfg d = {.name = "", .dim = dim, .distance = dist, .m = 16, .ef_construct = 100, .quant = quant};
  assert_int_equal(hx_vec_collection_create(db, "c", &(hx_vec_collection_cfg){.dense = &d, .ndense = 1, .index_threshold = 200}, &e), 0);
  assert_int_equal(hx_vec_index_create(db, "c", "rare", HX_VEC_INDEX_INTEGER, &e), 0);
  return db;
}

static hx_vec *open_db(char **dir, hx_vec_distance dist, hx_vec_quant quant, uint32_t filter_exact_max) {
  return open_dim(dir, dist, quant, filter_exact_max, DIM);
}

static void put(hx_vec *db, const float *data, size_t from, size_t to, uint64_t idbase) {
  hx_err e = {0};
  size_t n = to - from;
  hx_vec_point *p = calloc(n, sizeof *p);
  hx_vec_dense *d = calloc(n, sizeof *d);
  for (size_t i = 0; i < n; i++) {
    size_t r = from + i;
    d[i] = (hx_vec_dense){.v = data + r * DIM, .dim = DIM};
    p[i] = (hx_vec_point){.id = hx_vec_id_num(idbase + r), .dense = &d[i], .ndense = 1,
                          .payload = json_pack("{s:i,s:i}", "g", (int)(r % 10), "rare", (int)(r % 100))};
  }
  assert_int_equal(hx_vec_upsert(db, "c", "t", p, n, &e), 0);
  for (size_t i = 0; i < n; i++) json_decref(p[i].payload);
  free(p);
  free(d);
}

/* Mean recall@K over NQ queries; ok marks rows that may be returned. */
static double recall(hx_vec *db, hx_vec_distance dist, const float *data, const unsigned char *ok,
                     const float *qs, const hx_vec_filter *f, uint32_t ef, int ignore_quant) {
  hx_err e = {0};
  size_t hits_ok = 0, total = 0;
  for (int q = 0; q < NQ; q++) {
    size_t gold[K];
    size_t ng = vt_topk(dist, data, N, DIM, qs + (size_t)q * DIM, ok, K, gold);
    hx_vec_hit h[K];
    size_t nh;
    assert_int_equal(hx_vec_search(db, "c", "t", &(hx_vec_query){.v = qs + (size_t)q * DIM, .dim = DIM, .limit = K, .ef = ef, .filter = f, .ignore_quant = ignore_quant}, h, &nh, &e), 0);
    assert_int_equal(nh, ng);
    for (size_t i = 0; i < nh; i++) {
      assert_true(h[i].id.num < N && ok[h[i].id.num]); /* never a deleted or filtered point */
      for (size_t j = 0; j < ng; j++) hits_ok += gold[j] == h[i].id.num;
    }
    total += ng;
  }
  return (double)hits_ok / (double)total;
}

static void run_metric(hx_vec_distance dist, int clusters) {
  char *dir;
  hx_err e = {0};
  vt_seed(1000 + (uint64_t)dist * 10 + (uint64_t)clusters);
  float *data = vt_data(N, DIM, clusters, 0), *qs = vt_data(NQ, DIM, clusters, 0);
  hx_vec *db = open_db(&dir, dist, HX_VEC_QUANT_NONE, 100);
  for (size_t i = 0; i < N; i += 1000) put(db, data, i, i + 1000, 0);
  assert_int_equal(hx_vec_check(db, &e), 0); /* also while the indexer may be mid-way */
  assert_int_equal(hx_vec_wait_indexed(db, &e), 0);
  assert_int_equal(hx_vec_check(db, &e), 0);
  unsigned char ok[N];
  memset(ok, 1, sizeof ok);
  /* inner product is not a metric: the graph needs a wider beam for it */
  uint32_t ef = dist == HX_VEC_DOT ? 256 : 128;
  double r = recall(db, dist, data, ok, qs, NULL, ef, 0);
  fprintf(stderr, "  dist=%d clusters=%d recall@10=%.3f\n", dist, clusters, r);
  assert_true(r >= 0.95);
  /* 10% filter, unindexed: applied during traversal */
  json_t *fj = vt_json("{\"must\":[{\"key\":\"g\",\"match\":{\"value\":3}}]}");
  hx_vec_filter *f;
  assert_int_equal(hx_vec_filter_parse(fj, &f, &e), 0);
  unsigned char okf[N];
  for (int i = 0; i < N; i++) okf[i] = i % 10 == 3;
  r = recall(db, dist, data, okf, qs, f, 128, 0);
  fprintf(stderr, "  filtered 10%% recall@10=%.3f\n", r);
  assert_true(r >= 0.95);
  hx_vec_filter_free(f);
  json_decref(fj);
  /* 1% filter on an indexed key: the planner scans exactly */
  fj = vt_json("{\"must\":[{\"key\":\"rare\",\"range\":{\"gte\":7,\"lte\":7}}]}");
  assert_int_equal(hx_vec_filter_parse(fj, &f, &e), 0);
  for (int i = 0; i < N; i++) okf[i] = i % 100 == 7;
  r = recall(db, dist, data, okf, qs, f, 16, 0);
  assert_true(r >= 0.999);
  /* the same scan on int8 codes, 3x oversampled and rescored on floats */
  assert_int_equal(hx_vec_set_quant(db, "c", "", HX_VEC_QUANT_INT8, &e), 0);
  r = recall(db, dist, data, okf, qs, f, 16, 0);
  fprintf(stderr, "  filtered 1%% on int8 codes recall@10=%.3f\n", r);
  assert_true(r >= 0.98);
  assert_int_equal(hx_vec_set_quant(db, "c", "", HX_VEC_QUANT_NONE, &e), 0);
  hx_vec_filter_free(f);
  json_decref(fj);
  /* delete 30%, re-upsert a third of those with new vectors */
  hx_vec_id *ids = calloc(N, sizeof *ids);
  size_t nd = 0, del;
  for (int i = 0; i < N; i++)
    if (vt_next() % 10 < 3) {
      ids[nd++] = hx_vec_id_num((uint64_t)i);
      ok[i] = 0;
    }
  assert_int_equal(hx_vec_delete(db, "c", "t", ids, nd, &del, &e), 0);
  assert_int_equal(del, nd);
  float *fresh = vt_data(N, DIM, clusters, 0);
  for (size_t i = 0; i < nd; i += 3) {
    size_t row = ids[i].num;
    memcpy(data + row * DIM, fresh + row * DIM, DIM * sizeof(float));
    put(db, data, row, row + 1, 0);
    ok[row] = 1;
  }
  assert_int_equal(hx_vec_wait_indexed(db, &e), 0);
  assert_int_equal(hx_vec_check(db, &e), 0);
  r = recall(db, dist, data, ok, qs, NULL, 128, 0);
  fprintf(stderr, "  after deletes/re-upserts recall@10=%.3f\n", r);
  assert_true(r >= 0.95);
  /* the same after a restart (graph loaded from the snapshot, not rebuilt) */
  hx_vec_close(db);
  assert_int_equal(hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1, .filter_exact_max = 50}, &db, &e), 0);
  assert_int_equal(hx_vec_check(db, &e), 0);
  double r2 = recall(db, dist, data, ok, qs, NULL, 128, 0);
  assert_true(r2 >= 0.95);
  free(fresh);
  free(ids);
  free(data);
  free(qs);
  hx_vec_close(db);
  vt_rmdir(dir);
  free(dir);
}

static void test_recall_cosine(void **st) {
  (void)st;
  run_metric(HX_VEC_COSINE, 0);
  run_metric(HX_VEC_COSINE, 20);
}
static void test_recall_dot(void **st) {
  (void)st;
  /* uniform data: on clustered unnormalised data inner-product graphs need a
   * much wider beam (measured 0.84 at ef=256), as with any HNSW for MIPS */
  run_metric(HX_VEC_DOT, 0);
}
static void test_recall_euclid(void **st) {
  (void)st;
  run_metric(HX_VEC_EUCLID, 0);
  run_metric(HX_VEC_EUCLID, 20);
}

/* Embedding-like data: a random 16-dimensional subspace of dim, normalised. */
static float *lowrank(size_t n, uint32_t dim) {
  static float *basis;
  if (!basis) {
    uint64_t keep = vt_rng_state;
    vt_seed(99);
    basis = malloc((size_t)16 * dim * sizeof *basis);
    for (size_t i = 0; i < (size_t)16 * dim; i++) basis[i] = (float)vt_gauss();
    vt_seed(keep);
  }
  float *v = calloc(n * dim, sizeof *v);
  for (size_t i = 0; i < n; i++) {
    double ss = 0;
    for (int z = 0; z < 16; z++) {
      float c = (float)vt_gauss();
      for (uint32_t j = 0; j < dim; j++) v[i * dim + j] += c * basis[(size_t)z * dim + j];
    }
    for (uint32_t j = 0; j < dim; j++) ss += (double)v[i * dim + j] * v[i * dim + j];
    for (uint32_t j = 0; j < dim; j++) v[i * dim + j] = (float)(v[i * dim + j] / sqrt(ss));
  }
  return v;
}

/* Quantized search rescored on floats keeps recall: int8 at 32 dims, binary at
 * 512 dims (sign bits need many dimensions to rank well). */
static void test_quant_recall(void **st) {
  (void)st;
  const hx_vec_quant qk[] = {HX_VEC_QUANT_INT8, HX_VEC_QUANT_BINARY, HX_VEC_QUANT_INT8};
  const hx_vec_distance dk[] = {HX_VEC_COSINE, HX_VEC_COSINE, HX_VEC_EUCLID};
  const uint32_t dims[] = {DIM, 512, DIM};
  const size_t ns[] = {N, 2000, N};
  for (int k = 0; k < 3; k++) {
    char *dir;
    hx_err e = {0};
    uint32_t dim = dims[k];
    size_t n = ns[k];
    vt_seed(77);
    /* binary codes are sign bits: they rank data spread around the origin (as
     * model embeddings are), not points inside one tight cluster */
    int euclid = dk[k] == HX_VEC_EUCLID;
    float *data = k == 1 ? lowrank(n, dim) : vt_data(n, dim, 20, !euclid),
          *qs = k == 1 ? lowrank(NQ, dim) : vt_data(NQ, dim, 20, !euclid);
    hx_vec *db = open_dim(&dir, dk[k], qk[k], 50, dim);
    hx_vec_point *p = calloc(n, sizeof *p);
    hx_vec_dense *d = calloc(n, sizeof *d);
    for (size_t i = 0; i < n; i++) {
      d[i] = (hx_vec_dense){.v = data + i * dim, .dim = dim};
      p[i] = (hx_vec_point){.id = hx_vec_id_num(i), .dense = &d[i], .ndense = 1};
    }
    assert_int_equal(hx_vec_upsert(db, "c", "t", p, n, &e), 0);
    assert_int_equal(hx_vec_wait_indexed(db, &e), 0);
    free(p);
    free(d);
    hx_vec_hit h[K];
    size_t nh, hit = 0, tot = 0, hit_f = 0;
    for (int pass = 0; pass < 2; pass++) {
      for (int q = 0; q < NQ; q++) {
        size_t gold[K];
        const float *qv = qs + (size_t)q * dim;
        size_t ng = vt_topk(dk[k], data, n, dim, qv, NULL, K, gold);
        assert_int_equal(hx_vec_search(db, "c", "t", &(hx_vec_query){.v = qv, .dim = dim, .limit = K, .ef = 128, .oversampling = k == 1 ? 8 : 3}, h, &nh, &e), 0);
        assert_int_equal(nh, K);
        for (size_t i = 0; i < nh; i++) {
          for (size_t j = 0; j < ng; j++) *(pass ? &hit_f : &hit) += gold[j] == h[i].id.num;
          /* rescored: the score is the exact float cosine / distance */
          double exact = vt_sim(dk[k], data + h[i].id.num * dim, qv, dim);
          if (euclid) exact = sqrt(-exact);
          assert_true(fabs(exact - h[i].score) < 1e-3 * (1 + fabs(exact)));
        }
        if (!pass) tot += ng;
      }
      /* toggled off: plain float search */
      if (!pass) assert_int_equal(hx_vec_set_quant(db, "c", "", HX_VEC_QUANT_NONE, &e), 0);
    }
    double r = (double)hit / (double)tot, rf = (double)hit_f / (double)tot;
    fprintf(stderr, "  quant=%d dist=%d dim=%u recall@10=%.3f (float %.3f)\n", qk[k], dk[k], dim, r, rf);
    assert_true(r >= 0.95);
    assert_true(rf >= 0.95);
    free(data);
    free(qs);
    hx_vec_close(db);
    vt_rmdir(dir);
    free(dir);
  }
}

/* ---- concurrency ---- */

static struct {
  hx_vec *db;
  const float *data;
  int stop;
  uint64_t deleted_below; /* ids < this (of the first half) are deleted */
  int errors;
} cc;

static void *writer(void *arg) {
  (void)arg;
  hx_err e = {0};
  for (uint64_t r = 0; r < 20; r++) {
    put(cc.db, cc.data, N / 2 + r * 100, N / 2 + (r + 1) * 100, 0); /* new points */
    hx_vec_id ids[100];
    for (int i = 0; i < 100; i++) ids[i] = hx_vec_id_num(r * 100 + (uint64_t)i);
    size_t del;
    if (hx_vec_delete(cc.db, "c", "t", ids, 100, &del, &e) || del != 100) __atomic_add_fetch(&cc.errors, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&cc.deleted_below, (r + 1) * 100, __ATOMIC_RELEASE);
  }
  __atomic_store_n(&cc.stop, 1, __ATOMIC_RELEASE);
  return NULL;
}

static void *searcher(void *arg) {
  uint64_t seed = (uint64_t)(uintptr_t)arg;
  hx_err e = {0};
  while (!__atomic_load_n(&cc.stop, __ATOMIC_ACQUIRE)) {
    uint64_t below = __atomic_load_n(&cc.deleted_below, __ATOMIC_ACQUIRE);
    seed = seed * 6364136223846793005ull + 1;
    const float *q = cc.data + (seed >> 33) % N * DIM;
    hx_vec_hit h[K];
    size_t nh;
    if (hx_vec_search(cc.db, "c", "t", &(hx_vec_query){.v = q, .dim = DIM, .limit = K, .ef = 64}, h, &nh, &e) || nh != K)
      __atomic_add_fetch(&cc.errors, 1, __ATOMIC_SEQ_CST);
    for (size_t i = 0; i < nh; i++)
      if (h[i].id.num < below) __atomic_add_fetch(&cc.errors, 1, __ATOMIC_SEQ_CST); /* a deleted point came back */
  }
  return NULL;
}

static void test_concurrent(void **st) {
  (void)st;
  char *dir;
  hx_err e = {0};
  vt_seed(5);
  float *data = vt_data(N, DIM, 10, 0);
  cc.db = open_db(&dir, HX_VEC_EUCLID, HX_VEC_QUANT_NONE, 50);
  cc.data = data;
  put(cc.db, data, 0, N / 2, 0);
  pthread_t w, s[3];
  for (int i = 0; i < 3; i++) pthread_create(&s[i], NULL, searcher, (void *)(uintptr_t)(i + 1));
  pthread_create(&w, NULL, writer, NULL);
  pthread_join(w, NULL);
  for (int i = 0; i < 3; i++) pthread_join(s[i], NULL);
  assert_int_equal(cc.errors, 0);
  assert_int_equal(hx_vec_check(cc.db, &e), 0);
  size_t cnt;
  assert_int_equal(hx_vec_count(cc.db, "c", "t", NULL, 1, &cnt, &e), 0);
  assert_int_equal(cnt, N / 2); /* +2000 new, -2000 deleted */
  hx_vec_close(cc.db);
  vt_rmdir(dir);
  free(dir);
  free(data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_recall_cosine), cmocka_unit_test(test_recall_dot),
      cmocka_unit_test(test_recall_euclid), cmocka_unit_test(test_quant_recall),
      cmocka_unit_test(test_concurrent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
