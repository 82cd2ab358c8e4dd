/*
 * qdrant.c - the vector store on Qdrant over its REST API (QDRANT_URL), the
 * production backend: any number of API and worker processes share one Qdrant
 * (replicated, sharded), which the built-in engine (one owning process) cannot
 * offer.
 *
 * Only API present in Qdrant 1.11 is used (points/query exists since 1.10,
 * keyword is_tenant and the sparse IDF modifier since 1.10/1.11):
 *   ensure    GET /collections/{c}; if missing PUT /collections/{c} with an
 *             unnamed Cosine dense vector of dim and sparse_vectors
 *             {"text": {"modifier": "idf"}}; then PUT /collections/{c}/index
 *             for org_id (keyword, is_tenant) and the keys heimdex filters by.
 *   upsert    PUT /collections/{c}/points?wait=true in batches (<= 256 points,
 *             <= 512 KiB a body), payload.org_id = the org.
 *   get       POST /collections/{c}/points {ids, with_payload, with_vector},
 *             then payload.org_id must be the org (else HX_ENOENT).
 *   del       count then POST /points/delete?wait=true, both with the filter
 *             {must: [has_id, org_id match]}: only the org's points go.
 *   del_where / count / search: the filter {must: [org_id match, client filter]}
 *             (the client filter nested, so it narrows and never widens);
 *             count is POST /points/count exact; search POST /points/query.
 * Tenancy is enforced twice: the org condition on every request, and the
 * org_id of every record read back is checked before it leaves this file.
 *
 * Transport: libcurl easy handles from a pool (the API has many threads; a
 * handle keeps its keep-alive connection between calls), connect timeout 2 s
 * and a total timeout per request, retries with exponential backoff and jitter
 * on connection errors, timeouts and 5xx (never on 4xx: the request itself is
 * wrong); once the retries are spent HX_EUNAVAIL (503 at the API, a retried
 * job at the worker). Every request is idempotent (upserts carry their ids,
 * deletes and counts are by filter), so a retry after a lost reply is safe.
 */
#include "vstore/qdrant_int.h"
#include "vstore/vstore.h"
#include "vec/vec.h"
#include "util/buf.h"
#include "util/json.h"

#include <curl/curl.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define QD_MAX_REPLY ((size_t)64 << 20)   /* a search with vectors is a few MB at most */
#define QD_BATCH_POINTS 256
#define QD_BATCH_BYTES ((size_t)512 << 10)
#define QD_POOL_MAX 64                    /* idle handles kept; more threads make more, then free them */
#define QD_BACKOFF_CAP_MS 2000

static const char *const INDEXED_KEYS[] = {"asset_id", "segment_id", "model", "model_ver", "source_type"};

typedef struct {
  hx_vstore base;
  char *url;              /* without the trailing slash */
  struct curl_slist *hdr; /* Content-Type, api-key */
  long timeout_ms, connect_ms, backoff_ms;
  int retries;
  pthread_mutex_t mu;     /* pool and ready */
  CURL *pool[QD_POOL_MAX];
  int npool;
  char ready[64];         /* last collection ensure() checked, with its dim */
  int ready_dim;
} qd_store;

#define QS(s) ((qd_store *)(s))

/* ---- transport ---- */

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
  return hx_buf_add(ud, p, sz * n) == 0 ? sz * n : 0;  /* 0: CURLE_WRITE_ERROR (reply over the cap) */
}

static CURL *handle_get(qd_store *s) {
  pthread_mutex_lock(&s->mu);
  CURL *h = s->npool ? s->pool[--s->npool] : NULL;
  pthread_mutex_unlock(&s->mu);
  return h ? h : curl_easy_init();
}

static void handle_put(qd_store *s, CURL *h) {
  pthread_mutex_lock(&s->mu);
  if (s->npool < QD_POOL_MAX) {
    s->pool[s->npool++] = h;
    h = NULL;
  }
  pthread_mutex_unlock(&s->mu);
  curl_easy_cleanup(h);
}

static void sleep_backoff(const qd_store *s, int attempt) {
  long ms = s->backoff_ms << (attempt < 10 ? attempt : 10);
  if (ms > QD_BACKOFF_CAP_MS) ms = QD_BACKOFF_CAP_MS;
  uint32_t r = 0x80000000u;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r) r = 0x80000000u;
  double d = (double)ms * (0.8 + 0.4 * ((double)r / 4294967295.0));
  struct timespec ts = {(time_t)(d / 1000), (long)(fmod(d, 1000.0) * 1e6)};
  nanosleep(&ts, NULL);
}

/* One REST call: method on url + path with an optional JSON body. Retries
 * connection errors, timeouts and 5xx; *result gets the reply's "result" (a
 * new reference) on 2xx, else the reply's error becomes the return code. */
static int qd_call(qd_store *s, const char *method, const char *path, const char *body, size_t blen,
                   json_t **result, hx_err *err) {
  char url[1200];
  if ((size_t)snprintf(url, sizeof url, "%s%s", s->url, path) >= sizeof url)
    return hx_err_set(err, HX_EINVAL, "Qdrant URL too long");
  if (result) *result = NULL;
  CURL *h = handle_get(s);
  if (!h) return hx_err_set(err, HX_ENOMEM, "out of memory (curl handle)");
  hx_buf reply;
  hx_buf_init(&reply, QD_MAX_REPLY);
  char cerr[CURL_ERROR_SIZE];
  int rc = 0;
  for (int attempt = 0;; attempt++) {
    hx_buf_reset(&reply);
    cerr[0] = '\0';
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->hdr);
    if (body) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    }
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s->connect_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_WRITE_ERROR) {
      rc = hx_err_set(err, HX_ETOOBIG, "Qdrant %s %s: reply larger than %zu bytes", method, path, QD_MAX_REPLY);
      break;
    }
    if (cc == CURLE_OK && status < 500) {
      rc = hx__qdrant_reply(reply.data ? reply.data : "", reply.len, status, result, err);
      break;
    }
    if (attempt >= s->retries) {
      if (cc != CURLE_OK)
        rc = hx_err_set(err, HX_EUNAVAIL, "Qdrant unavailable at %s after %d attempts: %s", s->url, attempt + 1,
                        cerr[0] ? cerr : curl_easy_strerror(cc));
      else
        rc = hx__qdrant_reply(reply.data ? reply.data : "", reply.len, status, result, err);
      break;
    }
    sleep_backoff(s, attempt);
  }
  hx_buf_release(&reply);
  handle_put(s, h);
  return rc;
}

/* Same, with a jansson body (compact; float32 values were put as doubles that
 * print back exactly). */
static int qd_call_json(qd_store *s, const char *method, const char *path, const json_t *body, json_t **result,
                        hx_err *err) {
  char *b = json_dumps(body, JSON_COMPACT);
  if (!b) return hx_err_set(err, HX_ENOMEM, "out of memory");
  int rc = qd_call(s, method, path, b, strlen(b), result, err);
  free(b);
  return rc;
}

/* "/collections/<coll><rest>" with coll percent-encoded. */
static int coll_path(char *out, size_t cap, const char *coll, const char *rest) {
  size_t k = (size_t)snprintf(out, cap, "/collections/");
  for (const unsigned char *p = (const unsigned char *)coll; *p && k + 4 < cap; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-_.", *p))
      out[k++] = (char)*p;
    else
      k += (size_t)snprintf(out + k, cap - k, "%%%02X", *p);
  }
  out[k] = '\0';
  return (size_t)snprintf(out + k, cap - k, "%s", rest) < cap - k ? 0 : -1;
}

/* ---- reply parsers (qdrant_int.h) ---- */

int hx__qdrant_reply(const char *body, size_t len, long status, json_t **result, hx_err *err) {
  json_error_t je;
  json_t *j = len ? json_loadb(body, len, JSON_DECODE_ANY, &je) : NULL;
  int rc = 0;
  if (status >= 200 && status < 300) {
    if (!json_is_object(j)) {
      rc = hx_err_set(err, HX_ECORRUPT, "Qdrant answered %ld with a body that is not a JSON object", status);
    } else if (result) {
      json_t *r = json_object_get(j, "result");
      *result = r ? json_incref(r) : json_null();
    }
    json_decref(j);
    return rc;
  }
  const json_t *st = json_object_get(j, "status");
  const char *msg = json_string_value(json_object_get(st, "error"));
  if (!msg) msg = json_string_value(st);
  if (!msg) msg = "no error text";
  int code = status == 404                     ? HX_ENOENT
             : status == 400 || status == 422  ? HX_EINVAL
             : status == 409                   ? HX_EEXIST
             : status == 413                   ? HX_ETOOBIG
             : status == 401 || status == 403  ? HX_EUNAVAIL
             : status >= 500 || status < 100   ? HX_EUNAVAIL
                                               : HX_EBADREQ;
  if (status == 401 || status == 403)
    rc = hx_err_set(err, code, "Qdrant refused the request (%ld, check QDRANT_API_KEY): %.300s", status, msg);
  else
    rc = hx_err_set(err, code, "Qdrant error %ld: %.400s", status, msg);
  json_decref(j);
  return rc;
}

int hx__qdrant_coll_dim(const json_t *result, int *dim, hx_err *err) {
  const json_t *v = json_object_get(json_object_get(json_object_get(result, "config"), "params"), "vectors");
  if (json_is_object(v) && !json_object_get(v, "size")) v = json_object_get(v, ""); /* named form {"": {...}} */
  json_int_t n = json_integer_value(json_object_get(v, "size"));
  if (!json_is_integer(json_object_get(v, "size")) || n <= 0 || n > 65536)
    return hx_err_set(err, HX_ECORRUPT, "Qdrant collection info: config.params.vectors has no unnamed dense vector");
  *dim = (int)n;
  return 0;
}

int hx__qdrant_count(const json_t *result, size_t *n, hx_err *err) {
  const json_t *c = json_object_get(result, "count");
  if (!json_is_integer(c) || json_integer_value(c) < 0)
    return hx_err_set(err, HX_ECORRUPT, "Qdrant count: result.count is not a non-negative integer");
  *n = (size_t)json_integer_value(c);
  return 0;
}

/* A JSON number as float32; out-of-range values saturate (the cast would be UB). */
static float to_f32(double x) {
  return x > FLT_MAX ? FLT_MAX : x < -FLT_MAX ? -FLT_MAX : (float)x;
}

/* The dense vector of a VectorStructOutput: [floats] or {"": [floats], ...}. */
static int dense_of(const json_t *v, float **out, int *dim, hx_err *err) {
  *out = NULL;
  *dim = 0;
  if (!v || json_is_null(v)) return 0;
  if (json_is_object(v)) v = json_object_get(v, "");
  if (!json_is_array(v) || json_array_size(v) > 65536)
    return hx_err_set(err, HX_ECORRUPT, "Qdrant point: vector is not a dense float array");
  size_t n = json_array_size(v);
  float *f = malloc((n ? n : 1) * sizeof *f);
  if (!f) return hx_err_set(err, HX_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    const json_t *x = json_array_get(v, i);
    if (!json_is_number(x)) {
      free(f);
      return hx_err_set(err, HX_ECORRUPT, "Qdrant point: vector[%zu] is not a number", i);
    }
    f[i] = to_f32(json_number_value(x));
  }
  *out = f;
  *dim = (int)n;
  return 0;
}

static int same_org(const json_t *payload, const char *org) {
  const char *o = json_string_value(json_object_get(payload, "org_id"));
  return o && !strcasecmp(o, org);
}

static int point_id(const json_t *id, hx_uuid *u) {
  return json_is_string(id) && hx_uuid_parse(json_string_value(id), u) == 0 ? 0 : -1;
}

int hx__qdrant_record(const json_t *result, const char *org, float **vec, int *dim, json_t **payload, hx_err *err) {
  *vec = NULL;
  *dim = 0;
  *payload = NULL;
  if (!json_is_array(result)) return hx_err_set(err, HX_ECORRUPT, "Qdrant retrieve: result is not an array");
  const json_t *r = json_array_get(result, 0);
  if (!r) return hx_err_set(err, HX_ENOENT, "Point not found");
  const json_t *pl = json_object_get(r, "payload");
  hx_uuid u;
  if (!json_is_object(r) || point_id(json_object_get(r, "id"), &u))
    return hx_err_set(err, HX_ECORRUPT, "Qdrant retrieve: a record without a UUID id");
  if (!same_org(pl, org)) return hx_err_set(err, HX_ENOENT, "Point not found");
  int rc = dense_of(json_object_get(r, "vector"), vec, dim, err);
  if (!rc) *payload = json_incref((json_t *)pl);
  return rc;
}

int hx__qdrant_hits(const json_t *result, const char *org, int keep_payload, int with_vector, hx_vhit *hits,
                    size_t cap, size_t *n, hx_err *err) {
  *n = 0;
  const json_t *pts = json_object_get(result, "points");
  if (!json_is_array(pts)) return hx_err_set(err, HX_ECORRUPT, "Qdrant query: result.points is not an array");
  size_t i;
  const json_t *p;
  int rc = 0;
  json_array_foreach(pts, i, p) {
    if (*n >= cap) break;
    hx_vhit *h = &hits[*n];
    const json_t *sc = json_object_get(p, "score"), *pl = json_object_get(p, "payload");
    if (!json_is_object(p) || !json_is_number(sc)) {
      rc = hx_err_set(err, HX_ECORRUPT, "Qdrant query: points[%zu] has no score", i);
      break;
    }
    if (point_id(json_object_get(p, "id"), &h->id)) continue;  /* an integer id is not heimdex's */
    if (!same_org(pl, org)) continue;
    *h = (hx_vhit){.id = h->id, .score = to_f32(json_number_value(sc))};
    if (with_vector && (rc = dense_of(json_object_get(p, "vector"), &h->vec, &h->dim, err))) break;
    if (keep_payload) h->payload = json_incref((json_t *)pl);
    (*n)++;
  }
  if (rc) {
    hx_vstore_hits_release(hits, *n);
    *n = 0;
  }
  return rc;
}

/* ---- request bodies ---- */

/* Floats as JSON: 9 significant digits round-trip a float32 exactly. */
static int add_floats(hx_buf *b, const float *v, size_t n, hx_err *err) {
  int rc = hx_buf_adds(b, "[");
  for (size_t i = 0; !rc && i < n; i++) {
    if (!isfinite(v[i])) return hx_err_set(err, HX_EINVAL, "vector value %zu is not a finite number", i);
    char num[HX_JSON_F32_MAX + 1];
    num[0] = ',';
    size_t len = hx_json_f32(v[i], num + 1);
    rc = hx_buf_add(b, i ? num : num + 1, i ? len + 1 : len);
  }
  if (!rc) rc = hx_buf_adds(b, "]");
  return rc ? hx_err_set(err, rc, "request body too large") : 0;
}

static int add_sparse(hx_buf *b, const uint32_t *idx, const float *val, uint32_t n, hx_err *err) {
  int rc = hx_buf_adds(b, "{\"indices\":[");
  for (uint32_t i = 0; !rc && i < n; i++) rc = hx_buf_addf(b, i ? ",%u" : "%u", idx[i]);
  if (!rc) rc = hx_buf_adds(b, "],\"values\":");
  if (rc) return hx_err_set(err, rc, "request body too large");
  if ((rc = add_floats(b, val, n, err))) return rc;
  return hx_buf_adds(b, "}") ? hx_err_set(err, HX_ETOOBIG, "request body too large") : 0;
}

/* {"key":"org_id","match":{"value":org}} */
static json_t *org_cond(const char *org) {
  return json_pack("{s:s,s:{s:s}}", "key", "org_id", "match", "value", org);
}

/* {"must": [org condition, client filter?]}; the client filter is checked
 * with the engine's parser first, so a bad one gets the same precise 4xx as
 * on the built-in engine and never reaches Qdrant. */
static int scoped_filter(const char *org, const json_t *client, json_t **out, hx_err *err) {
  *out = NULL;
  json_t *must = json_array();
  json_array_append_new(must, org_cond(org));
  if (client && !json_is_null(client)) {
    hx_vec_filter *f = NULL;
    int rc = hx_vec_filter_parse(client, &f, err);
    hx_vec_filter_free(f);
    if (rc) {
      json_decref(must);
      return rc;
    }
    json_array_append_new(must, json_deep_copy(client));
  }
  *out = json_pack("{s:o}", "must", must);
  return *out ? 0 : hx_err_set(err, HX_ENOMEM, "out of memory");
}

/* ---- operations ---- */

static int get_dim(qd_store *s, const char *coll, int *dim, hx_err *err) {
  char path[400];
  json_t *res = NULL;
  *dim = 0;
  if (coll_path(path, sizeof path, coll, "")) return hx_err_set(err, HX_EINVAL, "collection name too long");
  hx_err e2 = {0};
  int rc = qd_call(s, "GET", path, NULL, 0, &res, &e2);
  if (rc == HX_ENOENT) return 0;
  if (!rc) rc = hx__qdrant_coll_dim(res, dim, &e2);
  json_decref(res);
  return rc ? hx_err_set(err, rc, "%s", e2.msg) : 0;
}

static int create_coll(qd_store *s, const char *coll, int dim, hx_err *err) {
  char path[400];
  if (coll_path(path, sizeof path, coll, "")) return hx_err_set(err, HX_EINVAL, "collection name too long");
  json_t *body = json_pack("{s:{s:i,s:s},s:{s:{s:s}}}", "vectors", "size", dim, "distance", "Cosine",
                           "sparse_vectors", HX_SPARSE_VECTOR, "modifier", "idf");
  int rc = qd_call_json(s, "PUT", path, body, NULL, err);
  json_decref(body);
  return rc;
}

static int create_indexes(qd_store *s, const char *coll, hx_err *err) {
  char path[400];
  if (coll_path(path, sizeof path, coll, "/index?wait=true")) return hx_err_set(err, HX_EINVAL, "collection name too long");
  /* org_id as the tenant key: Qdrant co-locates each tenant's points */
  json_t *body = json_pack("{s:s,s:{s:s,s:b}}", "field_name", "org_id", "field_schema", "type", "keyword",
                           "is_tenant", 1);
  int rc = qd_call_json(s, "PUT", path, body, NULL, err);
  json_decref(body);
  for (size_t i = 0; !rc && i < sizeof INDEXED_KEYS / sizeof *INDEXED_KEYS; i++) {
    body = json_pack("{s:s,s:s}", "field_name", INDEXED_KEYS[i], "field_schema", "keyword");
    rc = qd_call_json(s, "PUT", path, body, NULL, err);
    json_decref(body);
  }
  return rc;
}

static int qd_ensure(hx_vstore *vs, const char *coll, int dim, hx_err *err) {
  qd_store *s = QS(vs);
  pthread_mutex_lock(&s->mu);
  int done = !strcmp(s->ready, coll) && s->ready_dim == dim;
  pthread_mutex_unlock(&s->mu);
  if (done) return 0;
  int have = 0;
  int rc = get_dim(s, coll, &have, err);
  if (!rc && !have) {
    hx_err e2 = {0};
    rc = create_coll(s, coll, dim, &e2);
    /* another process may have created it first: look again */
    if (rc == HX_EEXIST || rc == HX_EINVAL) {
      int rc2 = get_dim(s, coll, &have, err);
      if (!rc2 && have) rc = 0;
    }
    if (rc) hx_err_set(err, rc, "%s", e2.msg);
    else if (!have) have = dim;
  }
  if (!rc && have != dim) rc = hx_err_set(err, HX_EINVAL, "collection %s has dimension %d, not %d", coll, have, dim);
  if (!rc) rc = create_indexes(s, coll, err);
  if (!rc) {
    pthread_mutex_lock(&s->mu);
    snprintf(s->ready, sizeof s->ready, "%s", coll);
    s->ready_dim = dim;
    pthread_mutex_unlock(&s->mu);
  }
  return rc;
}

/* One point of an upsert body. */
static int add_point(hx_buf *b, const char *org, const hx_vpoint *p, hx_err *err) {
  char id[37];
  hx_uuid_str(&p->id, id);
  if (p->dim <= 0 || !p->vec) return hx_err_set(err, HX_EINVAL, "point %s has no dense vector", id);
  if (hx_buf_addf(b, "{\"id\":\"%s\",\"vector\":", id)) return hx_err_set(err, HX_ETOOBIG, "request body too large");
  int rc = 0;
  if (p->sp_n) {
    if (hx_buf_adds(b, "{\"\":")) return hx_err_set(err, HX_ETOOBIG, "request body too large");
    if ((rc = add_floats(b, p->vec, (size_t)p->dim, err))) return rc;
    if (hx_buf_adds(b, ",\"" HX_SPARSE_VECTOR "\":")) return hx_err_set(err, HX_ETOOBIG, "request body too large");
    if ((rc = add_sparse(b, p->sp_idx, p->sp_val, p->sp_n, err))) return rc;
    if (hx_buf_adds(b, "}")) return hx_err_set(err, HX_ETOOBIG, "request body too large");
  } else if ((rc = add_floats(b, p->vec, (size_t)p->dim, err))) {
    return rc;
  }
  /* the payload the store keeps carries the org: it is the tenant key */
  json_t *pl = json_is_object(p->payload) ? json_copy(p->payload) : json_object();
  json_object_set_new(pl, "org_id", json_string(org));
  char *pls = json_dumps(pl, JSON_COMPACT);
  json_decref(pl);
  if (!pls) return hx_err_set(err, HX_ENOMEM, "out of memory");
  rc = hx_buf_addf(b, ",\"payload\":%s}", pls);
  free(pls);
  return rc ? hx_err_set(err, HX_ETOOBIG, "request body too large") : 0;
}

static int qd_upsert(hx_vstore *vs, const char *coll, const char *org, const hx_vpoint *pts, size_t n, hx_err *err) {
  qd_store *s = QS(vs);
  char path[400];
  if (coll_path(path, sizeof path, coll, "/points?wait=true")) return hx_err_set(err, HX_EINVAL, "collection name too long");
  hx_buf b;
  hx_buf_init(&b, QD_MAX_REPLY);
  int rc = 0;
  for (size_t i = 0; !rc && i < n;) {
    hx_buf_reset(&b);
    size_t k = 0;
    rc = hx_buf_adds(&b, "{\"points\":[") ? hx_err_set(err, HX_ENOMEM, "out of memory") : 0;
    while (!rc && i < n && k < QD_BATCH_POINTS && (k == 0 || b.len < QD_BATCH_BYTES)) {
      if (k && hx_buf_adds(&b, ",")) rc = hx_err_set(err, HX_ETOOBIG, "request body too large");
      if (!rc) rc = add_point(&b, org, &pts[i], err);
      i++, k++;
    }
    if (!rc && hx_buf_adds(&b, "]}")) rc = hx_err_set(err, HX_ETOOBIG, "request body too large");
    if (!rc) rc = qd_call(s, "PUT", path, b.data, b.len, NULL, err);
  }
  hx_buf_release(&b);
  return rc;
}

static int qd_get(hx_vstore *vs, const char *coll, const char *org, const hx_uuid *id, float **vec, int *dim,
                  json_t **payload, hx_err *err) {
  char path[400], ids[37];
  *vec = NULL;
  *payload = NULL;
  *dim = 0;
  if (coll_path(path, sizeof path, coll, "/points")) return hx_err_set(err, HX_EINVAL, "collection name too long");
  hx_uuid_str(id, ids);
  json_t *body = json_pack("{s:[s],s:b,s:b}", "ids", ids, "with_payload", 1, "with_vector", 1), *res = NULL;
  int rc = qd_call_json(QS(vs), "POST", path, body, &res, err);
  json_decref(body);
  if (rc == HX_ENOENT) rc = hx_err_set(err, HX_ENOENT, "Point not found");  /* no collection */
  if (!rc) rc = hx__qdrant_record(res, org, vec, dim, payload, err);
  json_decref(res);
  return rc;
}

/* count then delete, both with filter (already scoped to the org). */
static int count_scoped(qd_store *s, const char *coll, const json_t *filter, size_t *n, hx_err *err) {
  char path[400];
  *n = 0;
  if (coll_path(path, sizeof path, coll, "/points/count")) return hx_err_set(err, HX_EINVAL, "collection name too long");
  json_t *body = json_pack("{s:O,s:b}", "filter", filter, "exact", 1), *res = NULL;
  int rc = qd_call_json(s, "POST", path, body, &res, err);
  json_decref(body);
  if (rc == HX_ENOENT) rc = 0;  /* no collection: nothing there */
  else if (!rc) rc = hx__qdrant_count(res, n, err);
  json_decref(res);
  return rc;
}

static int delete_scoped(qd_store *s, const char *coll, const json_t *filter, size_t *deleted, hx_err *err) {
  size_t n = 0;
  int rc = count_scoped(s, coll, filter, &n, err);
  if (!rc && n) {
    char path[400];
    if (coll_path(path, sizeof path, coll, "/points/delete?wait=true"))
      return hx_err_set(err, HX_EINVAL, "collection name too long");
    json_t *body = json_pack("{s:O}", "filter", filter);
    rc = qd_call_json(s, "POST", path, body, NULL, err);
    json_decref(body);
    if (rc == HX_ENOENT) rc = 0, n = 0;
  }
  if (deleted) *deleted = rc ? 0 : n;
  return rc;
}

static int qd_del(hx_vstore *vs, const char *coll, const char *org, const hx_uuid *ids, size_t n, size_t *deleted,
                  hx_err *err) {
  if (deleted) *deleted = 0;
  if (!n) return 0;
  json_t *has = json_array();
  for (size_t i = 0; i < n; i++) {
    char s[37];
    hx_uuid_str(&ids[i], s);
    json_array_append_new(has, json_string(s));
  }
  json_t *f = json_pack("{s:[{s:o},o]}", "must", "has_id", has, org_cond(org));
  int rc = delete_scoped(QS(vs), coll, f, deleted, err);
  json_decref(f);
  return rc;
}

static int qd_del_where(hx_vstore *vs, const char *coll, const char *org, const json_t *filter, size_t *deleted,
                        hx_err *err) {
  json_t *f;
  if (deleted) *deleted = 0;
  int rc = scoped_filter(org, filter, &f, err);
  if (!rc) rc = delete_scoped(QS(vs), coll, f, deleted, err);
  json_decref(f);
  return rc;
}

static int qd_count(hx_vstore *vs, const char *coll, const char *org, const json_t *filter, size_t *n, hx_err *err) {
  json_t *f;
  *n = 0;
  int rc = scoped_filter(org, filter, &f, err);
  if (!rc) rc = count_scoped(QS(vs), coll, f, n, err);
  json_decref(f);
  return rc;
}

static int qd_total(hx_vstore *vs, size_t *n, size_t *pending, hx_err *err) {
  if (pending) *pending = 0; /* Qdrant indexes on its own schedule; not asked */
  json_t *all = json_object();
  int rc = count_scoped(QS(vs), HX_COLLECTION, all, n, err);
  json_decref(all);
  return rc;
}

static int qd_search(hx_vstore *vs, const char *coll, const char *org, const hx_vquery *q, hx_vhit *hits,
                     size_t *nhits, hx_err *err) {
  *nhits = 0;
  char path[400];
  if (coll_path(path, sizeof path, coll, "/points/query")) return hx_err_set(err, HX_EINVAL, "collection name too long");
  json_t *f;
  int rc = scoped_filter(org, q->filter, &f, err);
  if (rc) return rc;
  if (!q->limit || (q->sparse && !q->sp_n)) {  /* nothing can match */
    json_decref(f);
    return 0;
  }
  hx_buf b;
  hx_buf_init(&b, QD_MAX_REPLY);
  rc = hx_buf_adds(&b, "{\"query\":") ? hx_err_set(err, HX_ENOMEM, "out of memory") : 0;
  if (!rc) rc = q->sparse ? add_sparse(&b, q->sp_idx, q->sp_val, q->sp_n, err)
                          : add_floats(&b, q->vec, (size_t)(q->dim > 0 ? q->dim : 0), err);
  /* the rest through jansson, spliced after the query */
  json_t *rest = json_pack("{s:o,s:I,s:b}", "filter", f, "limit", (json_int_t)q->limit, "with_vector", q->with_vector);
  if (q->sparse) json_object_set_new(rest, "using", json_string(HX_SPARSE_VECTOR));
  if (q->offset) json_object_set_new(rest, "offset", json_integer((json_int_t)q->offset));
  if (q->has_threshold) json_object_set_new(rest, "score_threshold", json_real(q->threshold));
  /* the payload is always read for the org check; only org_id when not asked */
  json_object_set_new(rest, "with_payload", q->with_payload ? json_true() : json_pack("[s]", "org_id"));
  if (!q->sparse && (q->ef || q->exact)) {
    json_t *params = json_object();
    if (q->ef) json_object_set_new(params, "hnsw_ef", json_integer(q->ef));
    if (q->exact) json_object_set_new(params, "exact", json_true());
    json_object_set_new(rest, "params", params);
  }
  char *rs = rc ? NULL : json_dumps(rest, JSON_COMPACT);
  json_decref(rest);
  if (!rc && !rs) rc = hx_err_set(err, HX_ENOMEM, "out of memory");
  if (!rc && hx_buf_addf(&b, ",%s", rs + 1)) rc = hx_err_set(err, HX_ETOOBIG, "request body too large");
  free(rs);
  json_t *res = NULL;
  if (!rc) rc = qd_call(QS(vs), "POST", path, b.data, b.len, &res, err);
  hx_buf_release(&b);
  if (rc == HX_ENOENT) rc = 0;  /* no collection yet: nothing found */
  else if (!rc) rc = hx__qdrant_hits(res, org, q->with_payload, q->with_vector, hits, q->limit, nhits, err);
  json_decref(res);
  return rc;
}

static void qd_close(hx_vstore *vs) {
  if (!vs) return;
  qd_store *s = QS(vs);
  for (int i = 0; i < s->npool; i++) curl_easy_cleanup(s->pool[i]);
  curl_slist_free_all(s->hdr);
  pthread_mutex_destroy(&s->mu);
  free(s->url);
  free(s);
  curl_global_cleanup();
}

static const hx_vstore_ops qdrant_ops = {qd_close, qd_ensure, qd_upsert, qd_get, qd_del,
                                         qd_del_where, qd_count, qd_total, qd_search};

int hx_vstore_open_qdrant(const hx_vstore_qdrant_opts *o, hx_vstore **out, hx_err *err) {
  if (!o->url || (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8)))
    return hx_err_set(err, HX_ECONFIG, "QDRANT_URL=%s must start with http:// or https://", o->url ? o->url : "");
  if (strlen(o->url) > 600) return hx_err_set(err, HX_ECONFIG, "QDRANT_URL is too long");
  if (o->api_key && strpbrk(o->api_key, "\r\n"))
    return hx_err_set(err, HX_ECONFIG, "QDRANT_API_KEY must not contain a line break");
  qd_store *s = calloc(1, sizeof *s);
  if (!s || !(s->url = strdup(o->url))) {
    free(s);
    return hx_err_set(err, HX_ENOMEM, "out of memory");
  }
  size_t l = strlen(s->url);
  while (l && s->url[l - 1] == '/') s->url[--l] = '\0';
  curl_global_init(CURL_GLOBAL_DEFAULT);  /* reference counted; main() has done it already */
  s->base.ops = &qdrant_ops;
  s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
  s->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 2000;
  s->retries = o->retries > 0 ? o->retries : o->retries < 0 ? 0 : 3;
  s->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 100;
  pthread_mutex_init(&s->mu, NULL);
  s->hdr = curl_slist_append(NULL, "Content-Type: application/json");
  s->hdr = curl_slist_append(s->hdr, "Expect:");  /* no 100-continue round trip on big upserts */
  if (o->api_key && o->api_key[0]) {
    char h[600];
    snprintf(h, sizeof h, "api-key: %s", o->api_key);
    s->hdr = curl_slist_append(s->hdr, h);
  }
  *out = &s->base;
  return 0;
}
