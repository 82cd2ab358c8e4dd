/* libFuzzer target: the Qdrant backend's reply parsers (src/vstore/qdrant.c),
 * i.e. everything it reads from whatever answers at QDRANT_URL. The first byte
 * picks the HTTP status; the rest is the body. Invariants: no crash or leak,
 * and no record or hit of another org is ever handed out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vstore/qdrant_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static const char ORG[] = "550e8400-e29b-41d4-a716-446655440000";

static void check_org(const json_t *payload) {
  const char *o = json_string_value(json_object_get(payload, "org_id"));
  if (!o || strcasecmp(o, ORG)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (n < 1) return 0;
  static const long statuses[] = {200, 200, 200, 404, 400, 403, 409, 500};
  long status = statuses[data[0] & 7];
  hx_err e = {0};
  json_t *res = NULL;
  if (hx__qdrant_reply((const char *)data + 1, n - 1, status, &res, &e) == 0) {
    int dim;
    size_t cnt;
    (void)hx__qdrant_coll_dim(res, &dim, &e);
    (void)hx__qdrant_count(res, &cnt, &e);
    float *vec = NULL;
    json_t *pl = NULL;
    if (hx__qdrant_record(res, ORG, &vec, &dim, &pl, &e) == 0) {
      check_org(pl);
      if (dim && !vec) abort();
    }
    free(vec);
    json_decref(pl);
    hx_vhit hits[8];
    size_t nh = 0;
    if (hx__qdrant_hits(res, ORG, 1, 1, hits, 8, &nh, &e) == 0) {
      if (nh > 8) abort();
      for (size_t i = 0; i < nh; i++) check_org(hits[i].payload);
      hx_vstore_hits_release(hits, nh);
    }
  }
  json_decref(res);
  return 0;
}
