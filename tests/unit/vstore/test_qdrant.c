/*
 * test_qdrant.c - the Qdrant backend (src/vstore/qdrant.c) against a fake
 * Qdrant on 127.0.0.1 (fakeq.h): the requests it sends (paths, bodies, api-key),
 * float32 round trips, tenant scoping of every operation (also against a
 * Qdrant that leaks another org's points), retries on 5xx and connection
 * errors but not on 4xx, HX_EUNAVAIL, timeouts, concurrent use of the handle
 * pool, and the reply parsers on malformed input. At the end every recorded
 * request body is validated against Qdrant's published schema
 * (check_requests.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "fakeq.h"
#include "vstore/qdrant_int.h"
#include "vstore/vstore.h"

static const char *ORG_A = "550e8400-e29b-41d4-a716-446655440000";
static const char *ORG_B = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
#define DIM 8

static hx_vstore *open_store(const char *key, int retries, long timeout_ms) {
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", fq.port);
  hx_vstore_qdrant_opts o = {.url = url, .api_key = key, .retries = retries, .backoff_ms = 5, .timeout_ms = timeout_ms};
  hx_vstore *s = NULL;
  hx_err e = {0};
  assert_int_equal(hx_vstore_open_qdrant(&o, &s, &e), 0);
  return s;
}

static int nreq(void) {
  pthread_mutex_lock(&fq.mu);
  int n = fq.nreq;
  pthread_mutex_unlock(&fq.mu);
  return n;
}

/* The fake's state is touched under its lock only (its threads use it too). */
static json_t *req_body(int i) {
  pthread_mutex_lock(&fq.mu);
  json_t *b = json_loads(fq.reqs[i].body, 0, NULL);
  pthread_mutex_unlock(&fq.mu);
  return b;
}

static fq_req req_at(int i) {
  pthread_mutex_lock(&fq.mu);
  fq_req r = fq.reqs[i];
  pthread_mutex_unlock(&fq.mu);
  return r;
}

static void knob(int *field, int v) {
  pthread_mutex_lock(&fq.mu);
  *field = v;
  pthread_mutex_unlock(&fq.mu);
}

static size_t npts(void) {
  pthread_mutex_lock(&fq.mu);
  size_t n = fq.npts;
  pthread_mutex_unlock(&fq.mu);
  return n;
}

static int has_point(const char *id) {
  pthread_mutex_lock(&fq.mu);
  int r = fq_find(id) != NULL;
  pthread_mutex_unlock(&fq.mu);
  return r;
}

static void reset_points(void) {
  pthread_mutex_lock(&fq.mu);
  fq_reset_points();
  pthread_mutex_unlock(&fq.mu);
}

static void make_vec(float *v, int seed) {
  for (int k = 0; k < DIM; k++) v[k] = (float)sin(seed * 7.31 + k * 1.7) + 0.001f * (float)k;
}

static hx_uuid uid(int i) {
  hx_uuid u = {{0}};
  u.b[0] = 0x10;
  u.b[14] = (uint8_t)(i >> 8);
  u.b[15] = (uint8_t)i;
  u.b[6] = 0x40;
  u.b[8] = 0x80;
  return u;
}

/* n points of org: asset "a<i%3>", segment "s<i>", dense vector make_vec(base+i). */
static void upsert_n(hx_vstore *s, const char *org, int base, int n, int sparse) {
  hx_vpoint *p = calloc((size_t)n, sizeof *p);
  float *v = malloc((size_t)n * DIM * sizeof *v);
  uint32_t idx[2] = {7, 42};
  float val[2] = {0.5f, 1.25f};
  for (int i = 0; i < n; i++) {
    make_vec(v + i * DIM, base + i);
    char a[16], sg[16];
    snprintf(a, sizeof a, "a%d", i % 3);
    snprintf(sg, sizeof sg, "s%d", base + i);
    p[i] = (hx_vpoint){.id = uid(base + i), .vec = v + i * DIM, .dim = DIM,
                       .payload = json_pack("{s:s,s:s}", "asset_id", a, "segment_id", sg)};
    if (sparse) p[i].sp_idx = idx, p[i].sp_val = val, p[i].sp_n = 2;
  }
  hx_err e = {0};
  assert_int_equal(s->ops->upsert(s, HX_COLLECTION, org, p, (size_t)n, &e), 0);
  for (int i = 0; i < n; i++) json_decref(p[i].payload);
  free(p);
  free(v);
}

/* ensure: GET (404), PUT with Cosine + sparse IDF, six indexes (org_id tenant) */
static void test_ensure(void **st) {
  (void)st;
  hx_vstore *s = open_store("sekret", 2, 0);
  hx_err e = {0};
  int r0 = nreq();
  assert_int_equal(s->ops->ensure(s, HX_COLLECTION, DIM, &e), 0);
  assert_int_equal(nreq() - r0, 1 + 1 + 6);
  assert_string_equal(req_at(r0).method, "GET");
  assert_string_equal(req_at(r0).path, "/collections/embeddings");
  assert_string_equal(req_at(r0 + 1).method, "PUT");
  json_t *b = req_body(r0 + 1);
  json_t *want = json_pack("{s:{s:i,s:s},s:{s:{s:s}}}", "vectors", "size", DIM, "distance", "Cosine", "sparse_vectors",
                           "text", "modifier", "idf");
  assert_true(json_equal(b, want));
  json_decref(b);
  json_decref(want);
  b = req_body(r0 + 2);
  assert_string_equal(req_at(r0 + 2).path, "/collections/embeddings/index?wait=true");
  want = json_pack("{s:s,s:{s:s,s:b}}", "field_name", "org_id", "field_schema", "type", "keyword", "is_tenant", 1);
  assert_true(json_equal(b, want));
  json_decref(b);
  json_decref(want);
  for (int i = r0; i < nreq(); i++) assert_string_equal(req_at(i).key, "sekret");
  /* known now: no request */
  assert_int_equal(s->ops->ensure(s, HX_COLLECTION, DIM, &e), 0);
  assert_int_equal(nreq() - r0, 8);
  s->ops->close(s);
  /* another process with another dimension: refused like the engine does */
  s = open_store(NULL, 2, 0);
  assert_int_equal(s->ops->ensure(s, HX_COLLECTION, DIM + 1, &e), HX_EINVAL);
  assert_string_equal(e.msg, "collection embeddings has dimension 8, not 9");
  assert_string_equal(req_at(nreq() - 1).key, "");  /* no key configured: no header */
  /* the same dimension: indexes made sure of, the collection left alone */
  r0 = nreq();
  assert_int_equal(s->ops->ensure(s, HX_COLLECTION, DIM, &e), 0);
  assert_int_equal(nreq() - r0, 1 + 6);
  s->ops->close(s);
}

/* upsert in batches, get round-trips float32 bit for bit, org_id in payload */
static void test_upsert_get(void **st) {
  (void)st;
  hx_vstore *s = open_store(NULL, 2, 0);
  hx_err e = {0};
  reset_points();
  int r0 = nreq();
  upsert_n(s, ORG_A, 0, 600, 0);
  int puts = nreq() - r0;
  assert_true(puts >= 3);  /* <= 256 points a request */
  for (int i = r0; i < nreq(); i++) {
    assert_string_equal(req_at(i).path, "/collections/embeddings/points?wait=true");
    json_t *b = req_body(i);
    assert_true(json_array_size(json_object_get(b, "points")) <= 256);
    json_decref(b);
  }
  assert_int_equal(npts(), 600);
  upsert_n(s, ORG_B, 1000, 3, 1);  /* with sparse vectors: the named form */
  json_t *b = req_body(nreq() - 1);
  json_t *v0 = json_object_get(json_object_get(json_array_get(json_object_get(b, "points"), 0), "vector"), "text");
  assert_int_equal(json_array_size(json_object_get(v0, "indices")), 2);
  json_decref(b);

  for (int i = 0; i < 600; i += 97) {
    float want[DIM], *vec = NULL;
    int dim = 0;
    json_t *pl = NULL;
    hx_uuid id = uid(i);
    make_vec(want, i);
    assert_int_equal(s->ops->get(s, HX_COLLECTION, ORG_A, &id, &vec, &dim, &pl, &e), 0);
    assert_int_equal(dim, DIM);
    assert_memory_equal(vec, want, sizeof want);
    assert_string_equal(json_string_value(json_object_get(pl, "org_id")), ORG_A);
    char sg[16];
    snprintf(sg, sizeof sg, "s%d", i);
    assert_string_equal(json_string_value(json_object_get(pl, "segment_id")), sg);
    free(vec);
    json_decref(pl);
    /* another org asking for it: not found, no data */
    assert_int_equal(s->ops->get(s, HX_COLLECTION, ORG_B, &id, &vec, &dim, &pl, &e), HX_ENOENT);
    assert_null(vec);
    assert_null(pl);
  }
  float *vec = NULL;
  int dim;
  json_t *pl = NULL;
  hx_uuid unknown = uid(4000);
  assert_int_equal(s->ops->get(s, HX_COLLECTION, ORG_A, &unknown, &vec, &dim, &pl, &e), HX_ENOENT);
  assert_string_equal(e.msg, "Point not found");
  /* a sparse point reads back its dense vector from the named form */
  hx_uuid sp = uid(1001);
  assert_int_equal(s->ops->get(s, HX_COLLECTION, ORG_B, &sp, &vec, &dim, &pl, &e), 0);
  assert_int_equal(dim, DIM);
  free(vec);
  json_decref(pl);
  /* bad vectors are refused before any request */
  float nanv[DIM] = {NAN};
  hx_vpoint bad = {.id = uid(5000), .vec = nanv, .dim = DIM};
  int r1 = nreq();
  assert_int_equal(s->ops->upsert(s, HX_COLLECTION, ORG_A, &bad, 1, &e), HX_EINVAL);
  assert_int_equal(nreq(), r1);
  s->ops->close(s);
}

/* count, delete by id and by filter, total: only ever the caller's org */
static void test_count_delete(void **st) {
  (void)st;
  hx_vstore *s = open_store(NULL, 2, 0);
  hx_err e = {0};
  reset_points();
  upsert_n(s, ORG_A, 0, 30, 0);
  upsert_n(s, ORG_B, 100, 12, 0);
  size_t n = 0, d = 0;
  assert_int_equal(s->ops->count(s, HX_COLLECTION, ORG_A, NULL, &n, &e), 0);
  assert_int_equal(n, 30);
  json_t *f = json_pack("{s:[{s:s,s:{s:s}}]}", "must", "key", "asset_id", "match", "value", "a1");
  assert_int_equal(s->ops->count(s, HX_COLLECTION, ORG_A, f, &n, &e), 0);
  assert_int_equal(n, 10);
  json_t *b = req_body(nreq() - 1);
  json_t *want = json_pack("{s:{s:[{s:s,s:{s:s}},O]},s:b}", "filter", "must", "key", "org_id", "match", "value", ORG_A,
                           f, "exact", 1);
  assert_true(json_equal(b, want));
  json_decref(b);
  json_decref(want);
  /* B deleting A's point: nothing happens */
  hx_uuid a3 = uid(3), b1 = uid(101);
  assert_int_equal(s->ops->del(s, HX_COLLECTION, ORG_B, &a3, 1, &d, &e), 0);
  assert_int_equal(d, 0);
  assert_int_equal(npts(), 42);
  hx_uuid both[2] = {a3, b1};
  assert_int_equal(s->ops->del(s, HX_COLLECTION, ORG_A, both, 2, &d, &e), 0);
  assert_int_equal(d, 1);
  assert_int_equal(npts(), 41);
  assert_true(has_point("10000000-0000-4000-8000-000000000065"));  /* b1 = 101 = 0x65 stays */
  /* delete where: the org's a1 points only (B has a1 points too) */
  assert_int_equal(s->ops->del_where(s, HX_COLLECTION, ORG_A, f, &d, &e), 0);
  assert_int_equal(d, 10);
  assert_int_equal(s->ops->count(s, HX_COLLECTION, ORG_B, f, &n, &e), 0);
  assert_int_equal(n, 4);
  assert_int_equal(s->ops->total(s, &n, NULL, &e), 0);
  assert_int_equal(n, 31);
  /* a bad client filter: the engine's precise message, nothing sent */
  json_t *badf = json_pack("{s:[{s:s,s:{s:i}}]}", "must", "key", "x", "range", "gt", 1);
  json_object_set_new(json_array_get(json_object_get(badf, "must"), 0), "match", json_string("zz"));
  int r0 = nreq();
  assert_int_equal(s->ops->count(s, HX_COLLECTION, ORG_A, badf, &n, &e), HX_EINVAL);
  assert_int_equal(s->ops->del_where(s, HX_COLLECTION, ORG_A, badf, &d, &e), HX_EINVAL);
  assert_int_equal(nreq(), r0);
  json_decref(badf);
  json_decref(f);
  s->ops->close(s);
}

/* search: body shape, limit/offset/threshold, payload and vector, org scope */
static void test_search(void **st) {
  (void)st;
  hx_vstore *s = open_store(NULL, 2, 0);
  hx_err e = {0};
  reset_points();
  upsert_n(s, ORG_A, 0, 20, 1);
  upsert_n(s, ORG_B, 200, 20, 1);
  float q[DIM];
  make_vec(q, 5);
  hx_vhit hits[10];
  size_t nh = 0;
  hx_vquery vq = {.vec = q, .dim = DIM, .limit = 5, .with_payload = 1, .ef = 64};
  assert_int_equal(s->ops->search(s, HX_COLLECTION, ORG_A, &vq, hits, &nh, &e), 0);
  assert_int_equal(nh, 5);
  hx_uuid p5 = uid(5);
  assert_memory_equal(&hits[0].id, &p5, sizeof p5);  /* the query's own point first */
  assert_true(hits[0].score > 0.999f);
  for (size_t i = 0; i < nh; i++) {
    assert_string_equal(json_string_value(json_object_get(hits[i].payload, "org_id")), ORG_A);
    assert_null(hits[i].vec);
    if (i) assert_true(hits[i - 1].score >= hits[i].score);
  }
  hx_vstore_hits_release(hits, nh);
  json_t *b = req_body(nreq() - 1);
  assert_string_equal(req_at(nreq() - 1).path, "/collections/embeddings/points/query");
  assert_int_equal(json_array_size(json_object_get(b, "query")), DIM);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "params"), "hnsw_ef")), 64);
  assert_true(json_is_true(json_object_get(b, "with_payload")));
  assert_null(json_object_get(b, "using"));
  json_decref(b);
  /* offset, threshold, vectors, no payload asked (only org_id fetched, not handed out) */
  vq = (hx_vquery){.vec = q, .dim = DIM, .limit = 10, .offset = 1, .has_threshold = 1, .threshold = 0.5f,
                   .with_vector = 1};
  assert_int_equal(s->ops->search(s, HX_COLLECTION, ORG_A, &vq, hits, &nh, &e), 0);
  assert_true(nh >= 1 && nh <= 10);
  for (size_t i = 0; i < nh; i++) {
    assert_true(hits[i].score >= 0.5f);
    assert_null(hits[i].payload);
    assert_int_equal(hits[i].dim, DIM);
    assert_non_null(hits[i].vec);
  }
  assert_memory_not_equal(&hits[0].id, &p5, sizeof p5);
  hx_vstore_hits_release(hits, nh);
  b = req_body(nreq() - 1);
  json_t *wp = json_pack("[s]", "org_id");
  assert_true(json_equal(json_object_get(b, "with_payload"), wp));
  json_decref(wp);
  json_decref(b);
  /* sparse, with a client filter */
  uint32_t idx[1] = {42};
  float val[1] = {1.0f};
  json_t *f = json_pack("{s:[{s:s,s:{s:s}}]}", "must", "key", "asset_id", "match", "value", "a2");
  vq = (hx_vquery){.sparse = 1, .sp_idx = idx, .sp_val = val, .sp_n = 1, .filter = f, .limit = 10, .with_payload = 1};
  assert_int_equal(s->ops->search(s, HX_COLLECTION, ORG_B, &vq, hits, &nh, &e), 0);
  assert_true(nh >= 1);
  for (size_t i = 0; i < nh; i++) {
    assert_string_equal(json_string_value(json_object_get(hits[i].payload, "org_id")), ORG_B);
    assert_string_equal(json_string_value(json_object_get(hits[i].payload, "asset_id")), "a2");
  }
  hx_vstore_hits_release(hits, nh);
  b = req_body(nreq() - 1);
  assert_string_equal(json_string_value(json_object_get(b, "using")), "text");
  json_decref(b);
  json_decref(f);
  /* a Qdrant that ignores the filter still never hands out another org's point */
  knob(&fq.leak, 1);
  vq = (hx_vquery){.vec = q, .dim = DIM, .limit = 10};
  assert_int_equal(s->ops->search(s, HX_COLLECTION, ORG_B, &vq, hits, &nh, &e), 0);
  knob(&fq.leak, 0);
  assert_true(nh >= 1);
  for (size_t i = 0; i < nh; i++) assert_true(hits[i].id.b[14] == 0 && hits[i].id.b[15] >= 200);  /* B's ids */
  hx_vstore_hits_release(hits, nh);
  s->ops->close(s);
  /* a missing collection: zero hits, zero count, not found */
  hx_vstore *s2 = open_store(NULL, 2, 0);
  pthread_mutex_lock(&fq.mu);
  int dim_was = fq.dim;
  pthread_mutex_unlock(&fq.mu);
  knob(&fq.dim, 0);
  vq = (hx_vquery){.vec = q, .dim = DIM, .limit = 3};
  assert_int_equal(s2->ops->search(s2, HX_COLLECTION, ORG_A, &vq, hits, &nh, &e), 0);
  assert_int_equal(nh, 0);
  size_t n = 9;
  assert_int_equal(s2->ops->count(s2, HX_COLLECTION, ORG_A, NULL, &n, &e), 0);
  assert_int_equal(n, 0);
  knob(&fq.dim, dim_was);
  s2->ops->close(s2);
}

/* 5xx and connection errors are retried with backoff, 4xx never */
static void test_retries(void **st) {
  (void)st;
  hx_vstore *s = open_store(NULL, 3, 0);
  hx_err e = {0};
  size_t n;
  knob(&fq.fail_status, 503), knob(&fq.fail_n, 2);
  int r0 = nreq();
  assert_int_equal(s->ops->count(s, HX_COLLECTION, ORG_A, NULL, &n, &e), 0);
  assert_int_equal(nreq() - r0, 3);
  knob(&fq.fail_status, 500), knob(&fq.fail_n, 100);
  r0 = nreq();
  assert_int_equal(s->ops->count(s, HX_COLLECTION, ORG_A, NULL, &n, &e), HX_EUNAVAIL);
  assert_int_equal(nreq() - r0, 4);
  assert_non_null(strstr(e.msg, "injected failure"));
  knob(&fq.fail_status, 400), knob(&fq.fail_n, 100);
  r0 = nreq();
  assert_int_equal(s->ops->count(s, HX_COLLECTION, ORG_A, NULL, &n, &e), HX_EINVAL);
  assert_int_equal(nreq() - r0, 1);
  assert_string_equal(e.msg, "Qdrant error 400: injected failure");
  knob(&fq.fail_status, 403), knob(&fq.fail_n, 1);
  assert_int_equal(s->ops->count(s, HX_COLLECTION, ORG_A, NULL, &n, &e), HX_EUNAVAIL);
  assert_non_null(strstr(e.msg, "QDRANT_API_KEY"));
  knob(&fq.fail_n, 0);
  /* too slow: the total timeout applies to every attempt */
  hx_vstore *slow = open_store(NULL, 1, 150);
  knob(&fq.delay_ms, 600);
  r0 = nreq();
  assert_int_equal(slow->ops->count(slow, HX_COLLECTION, ORG_A, NULL, &n, &e), HX_EUNAVAIL);
  knob(&fq.delay_ms, 0);
  assert_non_null(strstr(e.msg, "after 2 attempts"));
  slow->ops->close(slow);
  s->ops->close(s);
  /* nobody listening: HX_EUNAVAIL (503 at the API) after the retries */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  getsockname(fd, (struct sockaddr *)&sa, &sl);
  close(fd);  /* a port nobody listens on */
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(sa.sin_port));
  hx_vstore_qdrant_opts o = {.url = url, .retries = 2, .backoff_ms = 5};
  hx_vstore *dead = NULL;
  assert_int_equal(hx_vstore_open_qdrant(&o, &dead, &e), 0);
  assert_int_equal(dead->ops->ensure(dead, HX_COLLECTION, DIM, &e), HX_EUNAVAIL);
  assert_non_null(strstr(e.msg, "Qdrant unavailable at http://127.0.0.1:"));
  assert_int_equal(hx_err_http_status(HX_EUNAVAIL), 503);
  dead->ops->close(dead);
  /* bad configuration */
  o.url = "127.0.0.1:6333";
  assert_int_equal(hx_vstore_open_qdrant(&o, &dead, &e), HX_ECONFIG);
}

/* many threads share one store (the handle pool) */
typedef struct { hx_vstore *s; int t; int fails; } thr_arg;

static void *worker(void *p) {
  thr_arg *a = p;
  for (int i = 0; i < 40; i++) {
    int id = 2000 + a->t * 100 + i;
    float v[DIM];
    make_vec(v, id);
    hx_vpoint pt = {.id = uid(id), .vec = v, .dim = DIM, .payload = NULL};
    hx_err e = {0};
    float *got = NULL;
    int dim;
    json_t *pl = NULL;
    if (a->s->ops->upsert(a->s, HX_COLLECTION, ORG_A, &pt, 1, &e) ||
        a->s->ops->get(a->s, HX_COLLECTION, ORG_A, &pt.id, &got, &dim, &pl, &e) || dim != DIM ||
        memcmp(got, v, sizeof v))
      a->fails++;
    free(got);
    json_decref(pl);
  }
  return NULL;
}

static void test_concurrent(void **st) {
  (void)st;
  hx_vstore *s = open_store(NULL, 2, 0);
  pthread_t th[8];
  thr_arg a[8];
  for (int t = 0; t < 8; t++) {
    a[t] = (thr_arg){s, t, 0};
    pthread_create(&th[t], NULL, worker, &a[t]);
  }
  for (int t = 0; t < 8; t++) {
    pthread_join(th[t], NULL);
    assert_int_equal(a[t].fails, 0);
  }
  s->ops->close(s);
}

/* the parsers on replies that are not what Qdrant sends */
static void test_parsers(void **st) {
  (void)st;
  hx_err e = {0};
  json_t *r = NULL;
  assert_int_equal(hx__qdrant_reply("{\"result\":{\"count\":3}}", 22, 200, &r, &e), 0);
  size_t n;
  assert_int_equal(hx__qdrant_count(r, &n, &e), 0);
  assert_int_equal(n, 3);
  json_decref(r);
  assert_int_equal(hx__qdrant_reply("<html>", 6, 200, &r, &e), HX_ECORRUPT);
  assert_int_equal(hx__qdrant_reply("", 0, 404, &r, &e), HX_ENOENT);
  assert_int_equal(hx__qdrant_reply("{\"status\":{\"error\":\"bad\"}}", 26, 422, &r, &e), HX_EINVAL);
  assert_string_equal(e.msg, "Qdrant error 422: bad");
  static const char *const counts[] = {"null", "{}", "{\"count\":-1}", "{\"count\":\"3\"}", "[1]"};
  for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
    json_t *j = json_loads(counts[i], JSON_DECODE_ANY, NULL);
    assert_int_equal(hx__qdrant_count(j, &n, &e), HX_ECORRUPT);
    json_decref(j);
  }
  int dim;
  json_t *j = json_loads("{\"config\":{\"params\":{\"vectors\":{\"\":{\"size\":12,\"distance\":\"Cosine\"}}}}}", 0, NULL);
  assert_int_equal(hx__qdrant_coll_dim(j, &dim, &e), 0);
  assert_int_equal(dim, 12);
  json_decref(j);
  j = json_loads("{\"config\":{\"params\":{\"vectors\":{\"dense\":{\"size\":12}}}}}", 0, NULL);
  assert_int_equal(hx__qdrant_coll_dim(j, &dim, &e), HX_ECORRUPT);
  json_decref(j);
  float *v;
  json_t *pl;
  static const char *const recs[] = {
      "{}", "[{\"id\":5,\"payload\":{}}]", "[{\"id\":\"10000000-0000-4000-8000-000000000001\",\"vector\":[1,\"x\"],"
      "\"payload\":{\"org_id\":\"550e8400-e29b-41d4-a716-446655440000\"}}]",
      "[{\"id\":\"10000000-0000-4000-8000-000000000001\",\"vector\":[[1,2]],"
      "\"payload\":{\"org_id\":\"550e8400-e29b-41d4-a716-446655440000\"}}]"};
  for (size_t i = 0; i < sizeof recs / sizeof *recs; i++) {
    j = json_loads(recs[i], 0, NULL);
    assert_int_equal(hx__qdrant_record(j, ORG_A, &v, &dim, &pl, &e), HX_ECORRUPT);
    assert_null(v);
    assert_null(pl);
    json_decref(j);
  }
  /* a record of another org (payload checked): not found */
  j = json_loads("[{\"id\":\"10000000-0000-4000-8000-000000000001\",\"vector\":[1],\"payload\":{\"org_id\":\"x\"}}]", 0, NULL);
  assert_int_equal(hx__qdrant_record(j, ORG_A, &v, &dim, &pl, &e), HX_ENOENT);
  json_decref(j);
  hx_vhit hits[4];
  j = json_loads("{\"points\":[{\"id\":\"10000000-0000-4000-8000-000000000001\",\"score\":0.5,"
                 "\"payload\":{\"org_id\":\"550e8400-e29b-41d4-a716-446655440000\"},\"vector\":[1,2]},"
                 "{\"id\":\"10000000-0000-4000-8000-000000000002\",\"score\":0.4,\"vector\":\"no\","
                 "\"payload\":{\"org_id\":\"550e8400-e29b-41d4-a716-446655440000\"}}]}", 0, NULL);
  size_t nh = 7;
  assert_int_equal(hx__qdrant_hits(j, ORG_A, 1, 1, hits, 4, &nh, &e), HX_ECORRUPT);
  assert_int_equal(nh, 0);
  assert_int_equal(hx__qdrant_hits(j, ORG_A, 1, 0, hits, 1, &nh, &e), 0);  /* cap 1 */
  assert_int_equal(nh, 1);
  hx_vstore_hits_release(hits, nh);
  json_decref(j);
}

/* every request sent in this run, validated against Qdrant's schema */
static void test_schema(void **st) {
  (void)st;
  char file[] = "/tmp/hx-qdrant-requests-XXXXXX";
  int fd = mkstemp(file);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(fq_dump(file), 0);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "python3 tests/unit/vstore/check_requests.py %s", file);
  int rc = system(cmd);
  unlink(file);
  assert_int_equal(rc, 0);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (fq_start()) {
    fprintf(stderr, "cannot start the fake Qdrant\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ensure),  cmocka_unit_test(test_upsert_get), cmocka_unit_test(test_count_delete),
      cmocka_unit_test(test_search),  cmocka_unit_test(test_retries),    cmocka_unit_test(test_concurrent),
      cmocka_unit_test(test_parsers), cmocka_unit_test(test_schema),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  fq_stop();
  curl_global_cleanup();
  return rc;
}
