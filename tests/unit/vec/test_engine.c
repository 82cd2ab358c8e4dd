/*
 * test_engine.c - the engine's data model end to end: collections, upsert /
 * get / scroll / count / delete / payload updates, tenant isolation, filtered
 * search against brute force, the planner's "never fewer than limit" promise,
 * and reopening from snapshot + log. Expected values come from the test's own
 * bookkeeping and brute force, never from the engine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "unit/vec/vt.h"

static void test_collections(void **st) {
  (void)st;
  char *dir = vt_tmpdir();
  hx_vec *db;
  hx_err e = {0};
  assert_int_equal(hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1}, &db, &e), 0);
  hx_vec_dense_cfg d = {.name = "", .dim = 4, .distance = HX_VEC_COSINE};
  hx_vec_collection_cfg cfg = {.dense = &d, .ndense = 1};
  assert_int_equal(hx_vec_collection_create(db, "a", &cfg, &e), 0);
  assert_int_equal(hx_vec_collection_create(db, "a", &cfg, &e), HX_EEXIST);
  hx_vec_dense_cfg bad = {.name = "", .dim = 0, .distance = HX_VEC_COSINE};
  assert_int_equal(hx_vec_collection_create(db, "b", &(hx_vec_collection_cfg){.dense = &bad, .ndense = 1}, &e),
                   HX_EINVAL);
  json_t *l;
  assert_int_equal(hx_vec_collection_list(db, &l, &e), 0);
  assert_int_equal(json_array_size(l), 1);
  json_decref(l);
  assert_int_equal(hx_vec_collection_drop(db, "a", &e), 0);
  assert_int_equal(hx_vec_collection_drop(db, "a", &e), HX_ENOENT);
  hx_vec_close(db);
  /* the drop survives a reopen */
  assert_int_equal(hx_vec_open(dir, NULL, &db, &e), 0);
  assert_int_equal(hx_vec_collection_list(db, &l, &e), 0);
  assert_int_equal(json_array_size(l), 0);
  json_decref(l);
  hx_vec_close(db);
  vt_rmdir(dir);
  free(dir);
}

static void upsert1(hx_vec *db, const char *t, uint64_t id, const float *v, const char *payload) {
  hx_err e = {0};
  json_t *p = payload ? vt_json(payload) : NULL;
  hx_vec_dense dv = {.v = v, .dim = 4};
  hx_vec_point pt = {.id = hx_vec_id_num(id), .dense = &dv, .ndense = 1, .payload = p};
  int rc = hx_vec_upsert(db, "c", t, &pt, 1, &e);
  if (rc) fprintf(stderr, "upsert: %s\n", e.msg);
  assert_int_equal(rc, 0);
  json_decref(p);
}

static void test_points_and_tenants(void **st) {
  (void)st;
  char *dir = vt_tmpdir();
  hx_vec *db;
  hx_err e = {0};
  assert_int_equal(hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1}, &db, &e), 0);
  hx_vec_dense_cfg d = {.name = "", .dim = 4, .distance = HX_VEC_DOT};
  assert_int_equal(hx_vec_collection_create(db, "c", &(hx_vec_collection_cfg){.dense = &d, .ndense = 1}, &e), 0);
  float a[4] = {1, 0, 0, 0}, b[4] = {0, 1, 0, 0};
  upsert1(db, "org1", 7, a, "{\"k\":\"x\",\"n\":1}");
  upsert1(db, "org2", 7, b, "{\"k\":\"y\",\"n\":2}");
  /* same id, two tenants, two points */
  hx_vec_record r;
  assert_int_equal(hx_vec_get(db, "c", "org1", &(hx_vec_id){.num = 7}, HX_VEC_WITH_PAYLOAD | HX_VEC_WITH_VECTORS, &r, &e), 0);
  assert_string_equal(json_string_value(json_object_get(r.payload, "k")), "x");
  assert_true(r.vectors[0][0] == 1.0f && r.vectors[0][1] == 0.0f);
  hx_vec_record_release(&r);
  assert_int_equal(hx_vec_get(db, "c", "org2", &(hx_vec_id){.num = 7}, HX_VEC_WITH_PAYLOAD, &r, &e), 0);
  assert_string_equal(json_string_value(json_object_get(r.payload, "k")), "y");
  hx_vec_record_release(&r);
  assert_int_equal(hx_vec_get(db, "c", "org3", &(hx_vec_id){.num = 7}, 0, &r, &e), HX_ENOENT);
  /* search in org1 only ever sees org1 */
  hx_vec_hit hits[10];
  size_t nh;
  assert_int_equal(hx_vec_search(db, "c", "org1", &(hx_vec_query){.v = b, .dim = 4, .limit = 10}, hits, &nh, &e), 0);
  assert_int_equal(nh, 1);
  assert_int_equal(hits[0].id.num, 7);
  assert_true(hits[0].score == 0.0f); /* org1's point is a, a·b = 0 */
  assert_null(hits[0].vector);
  assert_int_equal(hx_vec_search(db, "c", "org1", &(hx_vec_query){.v = b, .dim = 4, .limit = 10, .with = HX_VEC_WITH_VECTORS | HX_VEC_WITH_PAYLOAD}, hits, &nh, &e), 0);
  assert_int_equal(hits[0].dim, 4);
  assert_memory_equal(hits[0].vector, a, sizeof a);
  assert_string_equal(json_string_value(json_object_get(hits[0].payload, "k")), "x");
  hx_vec_hits_release(hits, nh);
  /* delete in org2 leaves org1 alone */
  size_t del;
  hx_vec_id id7 = hx_vec_id_num(7);
  assert_int_equal(hx_vec_delete(db, "c", "org2", &id7, 1, &del, &e), 0);
  assert_int_equal(del, 1);
  size_t cnt;
  assert_int_equal(hx_vec_count(db, "c", "org2", NULL, 1, &cnt, &e), 0);
  assert_int_equal(cnt, 0);
  assert_int_equal(hx_vec_count(db, "c", "org1", NULL, 1, &cnt, &e), 0);
  assert_int_equal(cnt, 1);
  /* a filter naming org2's data cannot reach it from org1 */
  json_t *fj = vt_json("{\"must\":[{\"key\":\"k\",\"match\":{\"value\":\"y\"}}]}");
  hx_vec_filter *f;
  assert_int_equal(hx_vec_filter_parse(fj, &f, &e), 0);
  upsert1(db, "org2", 8, b, "{\"k\":\"y\"}");
  assert_int_equal(hx_vec_count(db, "c", "org1", f, 1, &cnt, &e), 0);
  assert_int_equal(cnt, 0);
  assert_int_equal(hx_vec_delete_by_filter(db, "c", "org1", f, &del, &e), 0);
  assert_int_equal(del, 0);
  assert_int_equal(hx_vec_count(db, "c", "org2", f, 1, &cnt, &e), 0);
  assert_int_equal(cnt, 1);
  /* scroll and payload updates by filter stay inside the tenant too */
  hx_vec_record *recs;
  size_t nrec;
  int more;
  assert_int_equal(hx_vec_scroll(db, "c", "org1", NULL, 100, NULL, HX_VEC_WITH_PAYLOAD, &recs, &nrec, &more, NULL, &e), 0);
  assert_int_equal(nrec, 1);
  assert_string_equal(json_string_value(json_object_get(recs[0].payload, "k")), "x");
  hx_vec_records_release(recs, nrec);
  free(recs);
  json_t *mark = vt_json("{\"touched\":true}");
  size_t nup;
  assert_int_equal(hx_vec_payload_update(db, "c", "org1", HX_VEC_PAYLOAD_SET, mark, NULL, 0, NULL, &nup, &e), 0);
  assert_int_equal(nup, 1);
  assert_int_equal(hx_vec_get(db, "c", "org2", &(hx_vec_id){.num = 8}, HX_VEC_WITH_PAYLOAD, &r, &e), 0);
  assert_null(json_object_get(r.payload, "touched"));
  hx_vec_record_release(&r);
  json_decref(mark);
  hx_vec_filter_free(f);
  json_decref(fj);
  /* payload operations */
  json_t *set = vt_json("{\"z\":3}");
  size_t upd;
  assert_int_equal(hx_vec_payload_update(db, "c", "org1", HX_VEC_PAYLOAD_SET, set, &id7, 1, NULL, &upd, &e), 0);
  assert_int_equal(upd, 1);
  assert_int_equal(hx_vec_get(db, "c", "org1", &id7, HX_VEC_WITH_PAYLOAD, &r, &e), 0);
  assert_int_equal(json_integer_value(json_object_get(r.payload, "z")), 3);
  assert_string_equal(json_string_value(json_object_get(r.payload, "k")), "x");
  hx_vec_record_release(&r);
  json_t *keys = vt_json("[\"k\"]");
  assert_int_equal(hx_vec_payload_update(db, "c", "org1", HX_VEC_PAYLOAD_DELETE_KEYS, keys, NULL, 0, NULL, &upd, &e), 0);
  assert_int_equal(hx_vec_get(db, "c", "org1", &id7, HX_VEC_WITH_PAYLOAD, &r, &e), 0);
  assert_null(json_object_get(r.payload, "k"));
  assert_int_equal(json_object_size(r.payload), 3); /* n, z, touched */
  hx_vec_record_release(&r);
  assert_int_equal(hx_vec_payload_update(db, "c", "org1", HX_VEC_PAYLOAD_OVERWRITE, set, &id7, 1, NULL, &upd, &e), 0);
  assert_int_equal(hx_vec_get(db, "c", "org1", &id7, HX_VEC_WITH_PAYLOAD, &r, &e), 0);
  assert_int_equal(json_object_size(r.payload), 1);
  hx_vec_record_release(&r);
  assert_int_equal(hx_vec_payload_update(db, "c", "org1", HX_VEC_PAYLOAD_CLEAR, NULL, &id7, 1, NULL, &upd, &e), 0);
  assert_int_equal(hx_vec_get(db, "c", "org1", &id7, HX_VEC_WITH_PAYLOAD, &r, &e), 0);
  assert_int_equal(json_object_size(r.payload), 0);
  hx_vec_record_release(&r);
  json_decref(set);
  json_decref(keys);
  /* input errors */
  float v3[3] = {1, 2, 3};
  hx_vec_dense dv = {.v = v3, .dim = 3};
  hx_vec_point pt = {.id = hx_vec_id_num(1), .dense = &dv, .ndense = 1};
  assert_int_equal(hx_vec_upsert(db, "c", "org1", &pt, 1, &e), HX_EINVAL);
  assert_non_null(strstr(e.msg, "dimension 3, expected 4"));
  assert_int_equal(hx_vec_upsert(db, "nope", "org1", &pt, 1, &e), HX_ENOENT);
  assert_int_equal(hx_vec_upsert(db, "c", "", &pt, 1, &e), HX_EINVAL);
  assert_int_equal(hx_vec_check(db, &e), 0);
  hx_vec_close(db);
  vt_rmdir(dir);
  free(dir);
}

/* Many points, ids mixed u64/UUID: scroll pages in id order, count == scroll,
 * filtered search == brute force over the matching subset, everything survives
 * reopen (snapshot) and a second reopen with a log tail. */
static void test_scroll_filter_reopen(void **st) {
  (void)st;
  enum { N = 3000, DIM = 8 };
  char *dir = vt_tmpdir();
  hx_vec *db;
  hx_err e = {0};
  vt_seed(7);
  assert_int_equal(hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1, .filter_exact_max = 100}, &db, &e), 0);
  hx_vec_dense_cfg d = {.name = "", .dim = DIM, .distance = HX_VEC_EUCLID};
  assert_int_equal(hx_vec_collection_create(db, "c", &(hx_vec_collection_cfg){.dense = &d, .ndense = 1, .index_threshold = 500}, &e), 0);
  assert_int_equal(hx_vec_index_create(db, "c", "color", HX_VEC_INDEX_KEYWORD, &e), 0);
  assert_int_equal(hx_vec_index_create(db, "c", "n", HX_VEC_INDEX_INTEGER, &e), 0);
  float *data = vt_data(N, DIM, 0, 0);
  static const char *colors[] = {"red", "green", "blue", "rare"};
  int color[N];
  hx_vec_point *pts = calloc(N, sizeof *pts);
  hx_vec_dense *dv = calloc(N, sizeof *dv);
  for (int i = 0; i < N; i++) {
    color[i] = i % 100 == 0 ? 3 : (int)(vt_next() % 3);
    dv[i] = (hx_vec_dense){.v = data + (size_t)i * DIM, .dim = DIM};
    pts[i].id = hx_vec_id_num((uint64_t)i);
    if (i % 2) { /* odd points get UUID ids: 0000...-<i> */
      pts[i].id.is_uuid = 1;
      pts[i].id.num = 0;
      pts[i].id.uuid[14] = (unsigned char)(i >> 8);
      pts[i].id.uuid[15] = (unsigned char)i;
    }
    pts[i].dense = &dv[i];
    pts[i].ndense = 1;
    pts[i].payload = json_pack("{s:s,s:i,s:{s:i}}", "color", colors[color[i]], "n", i, "meta", "m", i % 7);
  }
  for (int i = 0; i < N; i += 500) assert_int_equal(hx_vec_upsert(db, "c", "t", pts + i, 500, &e), 0);
  assert_int_equal(hx_vec_check(db, &e), 0);

  static int gone[N], nval[N];
  for (int i = 0; i < N; i++) nval[i] = i;
  for (int round = 0; round < 3; round++) {
    if (round) { /* deletes and payload updates move indexed values around */
      for (int i = 0; i < N; i++) {
        size_t cnt;
        if (i % 10 == round && !gone[i]) {
          assert_int_equal(hx_vec_delete(db, "c", "t", &pts[i].id, 1, &cnt, &e), 0);
          assert_int_equal(cnt, 1);
          gone[i] = 1;
        } else if (i % 10 == round + 4 && !gone[i]) {
          nval[i] = 150 + i % 3; /* into the range [100, 200) */
          json_t *np = json_pack("{s:i}", "n", nval[i]);
          assert_int_equal(hx_vec_payload_update(db, "c", "t", HX_VEC_PAYLOAD_SET, np, &pts[i].id, 1, NULL, &cnt, &e), 0);
          assert_int_equal(cnt, 1);
          json_decref(np);
        }
      }
    }
    size_t alive = 0;
    for (int i = 0; i < N; i++) alive += !gone[i];
    /* scroll pages of 97 in id order: all points, integers first, no duplicates */
    hx_vec_id off;
    int has = 1, first = 1;
    size_t total = 0;
    hx_vec_id prev = {0};
    while (has) {
      hx_vec_record *r;
      size_t n;
      assert_int_equal(hx_vec_scroll(db, "c", "t", first ? NULL : &off, 97, NULL, 0, &r, &n, &has, &off, &e), 0);
      for (size_t i = 0; i < n; i++) {
        if (total + i) assert_true(hx_vec_id_cmp(&prev, &r[i].id) < 0);
        prev = r[i].id;
      }
      total += n;
      hx_vec_records_release(r, n);
      free(r);
      first = 0;
    }
    assert_int_equal(total, alive);
    /* count(filter) == scroll(filter) == our bookkeeping, for several filters */
    const char *filters[] = {
        "{\"must\":[{\"key\":\"color\",\"match\":{\"value\":\"rare\"}}]}",
        "{\"must\":[{\"key\":\"n\",\"range\":{\"gte\":100,\"lt\":200}}]}",
        "{\"should\":[{\"key\":\"color\",\"match\":{\"value\":\"rare\"}},{\"key\":\"meta.m\",\"match\":{\"value\":3}}]}",
        "{\"must_not\":[{\"key\":\"color\",\"match\":{\"any\":[\"red\",\"green\"]}}]}",
        /* answered by the indexes alone (exact candidate lists): bounds and unions must be exact */
        "{\"must\":[{\"key\":\"n\",\"range\":{\"gt\":100,\"lte\":200}}]}",
        "{\"should\":[{\"key\":\"color\",\"match\":{\"value\":\"rare\"}},{\"key\":\"n\",\"range\":{\"lt\":50}}]}",
        "{\"must\":[{\"has_id\":[6,8,999999]}]}",
    };
    for (size_t fi = 0; fi < 7; fi++) {
      json_t *fj = vt_json(filters[fi]);
      hx_vec_filter *f;
      assert_int_equal(hx_vec_filter_parse(fj, &f, &e), 0);
      unsigned char ok[N];
      size_t want = 0;
      for (int i = 0; i < N; i++) {
        int c = color[i];
        int nv = nval[i];
        ok[i] = !gone[i] && (fi == 0   ? c == 3
                             : fi == 1 ? (nv >= 100 && nv < 200)
                             : fi == 2 ? (c == 3 || i % 7 == 3)
                             : fi == 3 ? (c >= 2)
                             : fi == 4 ? (nv > 100 && nv <= 200)
                             : fi == 5 ? (c == 3 || nv < 50)
                                       : (i == 6 || i == 8));
        want += ok[i];
      }
      size_t cnt;
      assert_int_equal(hx_vec_count(db, "c", "t", f, 1, &cnt, &e), 0);
      if (cnt != want) fprintf(stderr, "round %d filter %zu: count %zu, want %zu\n", round, fi, cnt, want);
      assert_int_equal(cnt, want);
      hx_vec_record *r;
      size_t n;
      int hn;
      assert_int_equal(hx_vec_scroll(db, "c", "t", NULL, N, f, 0, &r, &n, &hn, NULL, &e), 0);
      assert_int_equal(n, want);
      hx_vec_records_release(r, n);
      free(r);
      /* filtered search: exact top-10 over the matching subset */
      for (int qi = 0; qi < 5; qi++) {
        float *q = vt_data(1, DIM, 0, 0);
        size_t gold[10];
        size_t ng = vt_topk(HX_VEC_EUCLID, data, N, DIM, q, ok, 10, gold);
        hx_vec_hit hits[10];
        size_t nh;
        assert_int_equal(hx_vec_search(db, "c", "t", &(hx_vec_query){.v = q, .dim = DIM, .limit = 10, .filter = f, .ef = 128}, hits, &nh, &e), 0);
        assert_int_equal(nh, ng); /* never fewer than limit when enough match */
        size_t found = 0;
        for (size_t i = 0; i < nh; i++) {
          uint64_t idx = hits[i].id.is_uuid ? ((uint64_t)hits[i].id.uuid[14] << 8 | hits[i].id.uuid[15]) : hits[i].id.num;
          assert_true(ok[idx]);
          for (size_t j = 0; j < ng; j++) found += gold[j] == idx;
        }
        assert_true(found >= ng * 8 / 10);
        free(q);
      }
      hx_vec_filter_free(f);
      json_decref(fj);
    }
    assert_int_equal(hx_vec_check(db, &e), 0);
    if (round == 1) { /* dropping and re-creating an index changes no answer (checked next round) */
      assert_int_equal(hx_vec_index_drop(db, "c", "color", &e), 0);
      assert_int_equal(hx_vec_index_drop(db, "c", "color", &e), HX_ENOENT);
      assert_int_equal(hx_vec_check(db, &e), 0);
      assert_int_equal(hx_vec_index_create(db, "c", "color", HX_VEC_INDEX_KEYWORD, &e), 0);
      assert_int_equal(hx_vec_index_drop(db, "c", "n", &e), 0);
    }
    if (round == 0) {
      hx_vec_close(db); /* snapshot */
    } else {
      /* leave a log tail: modify, then reopen */
      hx_vec_point p = pts[0];
      assert_int_equal(hx_vec_upsert(db, "c", "t", &p, 1, &e), 0);
      gone[0] = 0;
      nval[0] = 0;
      hx_vec_close(db);
    }
    assert_int_equal(hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1, .filter_exact_max = 100}, &db, &e), 0);
  }
  for (int i = 0; i < N; i++) json_decref(pts[i].payload);
  free(pts);
  free(dv);
  free(data);
  hx_vec_close(db);
  vt_rmdir(dir);
  free(dir);
}

/* 20 random queries on tenant "t" of collection "c" (Euclid): the 10 hits
 * are live points (ok[id]) and at least 9 of the exact top 10 over data. */
static void expect_top10(hx_vec *db, const float *data, size_t n, uint32_t dim, const unsigned char *ok) {
  hx_err e = {0};
  for (int qi = 0; qi < 20; qi++) {
    float *q = vt_data(1, dim, 0, 0);
    size_t gold[10];
    size_t ng = vt_topk(HX_VEC_EUCLID, data, n, dim, q, ok, 10, gold);
    hx_vec_hit h[10];
    size_t nh, hit = 0;
    assert_int_equal(hx_vec_search(db, "c", "t", &(hx_vec_query){.v = q, .dim = dim, .limit = 10, .ef = 100}, h, &nh, &e), 0);
    assert_int_equal(nh, ng);
    for (size_t i = 0; i < nh; i++) {
      assert_true(ok[h[i].id.num]);
      for (size_t j = 0; j < ng; j++) hit += gold[j] == h[i].id.num;
    }
    assert_true(hit >= 9);
    free(q);
  }
}

/* Deleting most of a tenant compacts its shard (slots renumbered, graph
 * rebuilt): ids, payloads, vectors and search answers must not change. */
static void test_compaction(void **st) {
  (void)st;
  enum { N = 2000, DIM = 8 };
  char *dir = vt_tmpdir();
  hx_vec *db;
  hx_err e = {0};
  vt_seed(99);
  assert_int_equal(hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1}, &db, &e), 0);
  hx_vec_dense_cfg d = {.name = "", .dim = DIM, .distance = HX_VEC_EUCLID};
  assert_int_equal(hx_vec_collection_create(db, "c", &(hx_vec_collection_cfg){.dense = &d, .ndense = 1, .index_threshold = 100}, &e), 0);
  assert_int_equal(hx_vec_index_create(db, "c", "i", HX_VEC_INDEX_INTEGER, &e), 0);
  float *data = vt_data(N, DIM, 0, 0);
  for (int i = 0; i < N; i++) {
    hx_vec_dense dv = {.v = data + (size_t)i * DIM, .dim = DIM};
    json_t *p = json_pack("{s:i}", "i", i);
    hx_vec_point pt = {.id = hx_vec_id_num((uint64_t)i), .dense = &dv, .ndense = 1, .payload = p};
    assert_int_equal(hx_vec_upsert(db, "c", "t", &pt, 1, &e), 0);
    json_decref(p);
  }
  json_t *info;
  /* pending_index: slots the background indexer has not reached (racing it here) */
  assert_int_equal(hx_vec_collection_info(db, "c", &info, &e), 0);
  json_int_t pend = json_integer_value(json_object_get(info, "pending_index"));
  assert_true(pend >= 0 && pend <= N);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(info, "tenants"), "t"),
                                                      "pending_index")), pend);
  json_decref(info);
  assert_int_equal(hx_vec_wait_indexed(db, &e), 0);
  assert_int_equal(hx_vec_collection_info(db, "c", &info, &e), 0);
  assert_int_equal(json_integer_value(json_object_get(info, "pending_index")), 0);
  json_decref(info);
  unsigned char ok[N];
  hx_vec_id *ids = calloc(N, sizeof *ids);
  size_t nd = 0, del;
  for (int i = 0; i < N; i++) {
    ok[i] = i % 4 == 0;
    if (!ok[i]) ids[nd++] = hx_vec_id_num((uint64_t)i);
  }
  assert_int_equal(hx_vec_delete(db, "c", "t", ids, nd, &del, &e), 0);
  assert_int_equal(del, nd);
  assert_int_equal(hx_vec_collection_info(db, "c", &info, &e), 0);
  json_t *t = json_object_get(json_object_get(info, "tenants"), "t");
  assert_int_equal(json_integer_value(json_object_get(t, "points")), N / 4);
  assert_int_equal(json_integer_value(json_object_get(t, "slots")), N / 4); /* compacted */
  json_decref(info);
  for (int round = 0; round < 2; round++) {
    assert_int_equal(hx_vec_check(db, &e), 0);
    for (int i = 0; i < N; i += 7) {
      hx_vec_record r;
      hx_vec_id id = hx_vec_id_num((uint64_t)i);
      int rc = hx_vec_get(db, "c", "t", &id, HX_VEC_WITH_PAYLOAD | HX_VEC_WITH_VECTORS, &r, &e);
      assert_int_equal(rc, ok[i] ? 0 : HX_ENOENT);
      if (rc) continue;
      assert_int_equal(json_integer_value(json_object_get(r.payload, "i")), i);
      assert_memory_equal(r.vectors[0], data + (size_t)i * DIM, DIM * sizeof(float));
      hx_vec_record_release(&r);
    }
    expect_top10(db, data, N, DIM, ok);
    hx_vec_close(db);
    assert_int_equal(hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1}, &db, &e), 0);
  }
  hx_vec_close(db);
  free(ids);
  free(data);
  vt_rmdir(dir);
  free(dir);
}

/* Re-upserting the same ids forever (a document re-indexed again and again)
 * tombstones a slot per upsert; the shard must compact, so its slots stay
 * within about twice its live points, while every id reads back its last
 * vector and searches find the latest vectors only. */
static void test_replacing_upserts_compact(void **st) {
  (void)st;
  enum { N = 500, DIM = 8, ROUNDS = 6 };
  char *dir = vt_tmpdir();
  hx_vec *db;
  hx_err e = {0};
  vt_seed(7);
  assert_int_equal(hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1}, &db, &e), 0);
  hx_vec_dense_cfg d = {.name = "", .dim = DIM, .distance = HX_VEC_EUCLID};
  assert_int_equal(hx_vec_collection_create(db, "c", &(hx_vec_collection_cfg){.dense = &d, .ndense = 1, .index_threshold = 100}, &e), 0);
  float *data = NULL;
  long long max_slots = 0;
  for (int round = 0; round < ROUNDS; round++) {
    free(data);
    data = vt_data(N, DIM, 0, 0);
    for (int i = 0; i < N; i++) {
      hx_vec_dense dv = {.v = data + (size_t)i * DIM, .dim = DIM};
      json_t *p = json_pack("{s:i,s:i}", "i", i, "round", round);
      hx_vec_point pt = {.id = hx_vec_id_num((uint64_t)i), .dense = &dv, .ndense = 1, .payload = p};
      assert_int_equal(hx_vec_upsert(db, "c", "t", &pt, 1, &e), 0);
      json_decref(p);
      if (i % 50 == 0) {
        json_t *info;
        assert_int_equal(hx_vec_collection_info(db, "c", &info, &e), 0);
        json_t *t = json_object_get(json_object_get(info, "tenants"), "t");
        long long slots = json_integer_value(json_object_get(t, "slots"));
        long long pts = json_integer_value(json_object_get(t, "points"));
        if (slots > max_slots) max_slots = slots;
        assert_true(pts == (round ? N : i + 1));
        assert_true(slots <= 2 * pts + 1);
        json_decref(info);
      }
    }
  }
  assert_true(max_slots <= 2 * N + 1);
  assert_int_equal(hx_vec_wait_indexed(db, &e), 0);
  assert_int_equal(hx_vec_check(db, &e), 0);
  unsigned char ok[N];
  memset(ok, 1, sizeof ok);
  for (int i = 0; i < N; i += 3) {
    hx_vec_record r;
    hx_vec_id id = hx_vec_id_num((uint64_t)i);
    assert_int_equal(hx_vec_get(db, "c", "t", &id, HX_VEC_WITH_PAYLOAD | HX_VEC_WITH_VECTORS, &r, &e), 0);
    assert_int_equal(json_integer_value(json_object_get(r.payload, "round")), ROUNDS - 1);
    assert_memory_equal(r.vectors[0], data + (size_t)i * DIM, DIM * sizeof(float));
    hx_vec_record_release(&r);
  }
  expect_top10(db, data, N, DIM, ok);
  hx_vec_close(db);
  free(data);
  vt_rmdir(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_collections),
      cmocka_unit_test(test_points_and_tenants),
      cmocka_unit_test(test_scroll_filter_reopen),
      cmocka_unit_test(test_compaction),
      cmocka_unit_test(test_replacing_upserts_compact),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
