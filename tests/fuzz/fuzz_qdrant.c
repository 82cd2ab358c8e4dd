/* libFuzzer target: the Qdrant-compatible API's request parsing, end to end.
 * The first byte picks a route of hx_qdrant_routes, the rest is its JSON body;
 * the handler runs against a real engine (temporary directory, no fsync) that
 * holds a collection "c" (dense 4-d Cosine default vector, named "e" 3-d
 * Euclid, sparse "s" with IDF) and a few points, so parsed requests reach the
 * engine calls. Every answer must be Qdrant's envelope or error shape with a
 * 2xx/4xx status: a 5xx (or a crash) on any input is a bug. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qdrant/qdrant.h"
#include "vec/vec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static hx_vec *db;
static size_t nroutes, runs;

static void ensure_collection(void) {
  hx_vec_dense_cfg d[2] = {{.name = "", .dim = 4, .distance = HX_VEC_COSINE},
                           {.name = "e", .dim = 3, .distance = HX_VEC_EUCLID, .quant = HX_VEC_QUANT_INT8}};
  hx_vec_sparse_cfg s = {.name = "s", .idf = 1};
  hx_vec_collection_cfg cfg = {.dense = d, .ndense = 2, .sparse = &s, .nsparse = 1};
  if (hx_vec_collection_create(db, "c", &cfg, NULL) != 0) return;   /* exists */
  hx_vec_index_create(db, "c", "city", HX_VEC_INDEX_KEYWORD, NULL);
  for (uint64_t i = 1; i <= 5; i++) {
    float v[4] = {(float)i, 1, (float)(i % 2), 0.5f}, e[3] = {(float)i, 0, 1};
    uint32_t idx[2] = {(uint32_t)i, 7};
    float val[2] = {1, 0.5f};
    hx_vec_dense dv[2] = {{"", v, 4}, {"e", e, 3}};
    hx_vec_sparse sv = {"s", idx, val, 2};
    json_t *pl = json_pack("{s:s,s:I}", "city", i % 2 ? "Berlin" : "Paris", "n", (json_int_t)i);
    hx_vec_point p = {.id = hx_vec_id_num(i), .dense = dv, .ndense = 2, .sparse = &sv, .nsparse = 1, .payload = pl};
    hx_vec_upsert(db, "c", HX_QDRANT_TENANT, &p, 1, NULL);
    json_decref(pl);
  }
}

static void setup(void) {
  char dir[] = "/tmp/hx-fuzz-qdrant-XXXXXX";
  if (!mkdtemp(dir)) abort();
  hx_vec_opts o = {.no_fsync = 1};
  if (hx_vec_open(dir, &o, &db, NULL)) abort();
  while (hx_qdrant_routes[nroutes].method) nroutes++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (!db) setup();
  if (n == 0) return 0;
  if (++runs % 2000 == 0) hx_vec_collection_drop(db, "c", NULL);   /* keep the state small */
  ensure_collection();
  const hx_route *rt = &hx_qdrant_routes[data[0] % nroutes];
  char *b = malloc(n);
  memcpy(b, data + 1, n - 1);
  b[n - 1] = '\0';
  hx_qdrant_app app = {.db = db};
  hx_req req = {.method = rt->method, .path = rt->pattern, .body = n > 1 ? b : NULL, .body_len = n - 1};
  req.params[0] = (data[0] / nroutes) % 4 == 3 ? "nope" : "c";
  req.params[1] = (data[0] / nroutes) % 2 ? "city" : "1";
  hx_resp resp = {.status = 500};
  rt->handler(&app, &req, &resp);
  if (resp.status >= 500) {
    fprintf(stderr, "status %d: %s\n", resp.status, resp.json ? json_dumps(resp.json, 0) : "");
    abort();
  }
  if (resp.json) {
    json_t *st = json_object_get(resp.json, "status");
    int ok = resp.status == 200 ? (json_is_string(st) || json_object_get(resp.json, "version") != NULL)
                                : json_is_string(json_object_get(st, "error"));
    if (!ok) abort();
  }
  json_decref(resp.json);
  free(resp.raw);
  free(b);
  return 0;
}
