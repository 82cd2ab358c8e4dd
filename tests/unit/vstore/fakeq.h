/*
 * fakeq.h - a tiny fake Qdrant for the Qdrant backend's unit tests: a
 * libmicrohttpd server on 127.0.0.1 (ephemeral port) that records every
 * request (method, path with query, api-key header, body) and answers from a
 * small in-memory model of the REST API heimdex uses: collection get/create,
 * payload index create, points upsert / retrieve / count / delete / query.
 * Filters understood: must / should / must_not with key+match.value, has_id
 * and nested filters - what the backend sends. Knobs inject faults: the next
 * N replies with a given status, a delay, and ignoring the query filter (a
 * Qdrant that leaks another tenant's points).
 *
 * Not a Qdrant: answers are only as rich as the backend's parsers need. The
 * request bodies are checked against Qdrant's published schema separately
 * (fq_dump + tests/unit/vstore/check_requests.py).
 */
#ifndef HX_TEST_VSTORE_FAKEQ_H
#define HX_TEST_VSTORE_FAKEQ_H

#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FQ_MAX_REQ 4096

typedef struct { char method[8]; char path[256]; char key[64]; char *body; } fq_req;

typedef struct { char *id; json_t *point; } fq_point;  /* point: {id, vector, payload} as upserted */

static struct {
  struct MHD_Daemon *d;
  int port;
  pthread_mutex_t mu;
  fq_req reqs[FQ_MAX_REQ];
  int nreq;
  int dim;                 /* collection "embeddings": 0 = missing */
  fq_point *pts;
  size_t npts, cap;
  int fail_n, fail_status; /* answer the next fail_n requests with fail_status */
  int delay_ms;            /* sleep before answering */
  int leak;                /* query ignores the filter */
} fq;

static const char *fq_ok(const char *result_json, char *buf, size_t cap) {
  snprintf(buf, cap, "{\"result\":%s,\"status\":\"ok\",\"time\":0.001}", result_json);
  return buf;
}

/* ---- filters ---- */

static int fq_match(const json_t *cond, const json_t *pt);

static int fq_filter(const json_t *f, const json_t *pt) {
  if (!f || json_is_null(f)) return 1;
  size_t i;
  const json_t *c;
  json_array_foreach(json_object_get(f, "must"), i, c) if (!fq_match(c, pt)) return 0;
  json_array_foreach(json_object_get(f, "must_not"), i, c) if (fq_match(c, pt)) return 0;
  const json_t *sh = json_object_get(f, "should");
  if (json_array_size(sh)) {
    int any = 0;
    json_array_foreach(sh, i, c) any |= fq_match(c, pt);
    if (!any) return 0;
  }
  return 1;
}

static int fq_match(const json_t *cond, const json_t *pt) {
  const json_t *has = json_object_get(cond, "has_id");
  if (has) {
    size_t i;
    const json_t *x;
    json_array_foreach(has, i, x) if (json_equal(x, json_object_get(pt, "id"))) return 1;
    return 0;
  }
  const char *key = json_string_value(json_object_get(cond, "key"));
  if (key) {
    const json_t *v = json_object_get(json_object_get(pt, "payload"), key);
    return v && json_equal(v, json_object_get(json_object_get(cond, "match"), "value"));
  }
  return fq_filter(cond, pt);  /* a nested filter */
}

/* ---- the model ---- */

static const json_t *fq_dense(const json_t *v) { return json_is_object(v) ? json_object_get(v, "") : v; }

static double fq_cos(const json_t *a, const json_t *b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < json_array_size(a) && i < json_array_size(b); i++) {
    double x = json_number_value(json_array_get(a, i)), y = json_number_value(json_array_get(b, i));
    ab += x * y, aa += x * x, bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

static double fq_sparse_dot(const json_t *q, const json_t *v) {
  const json_t *s = json_object_get(v, "text");
  double d = 0;
  for (size_t i = 0; i < json_array_size(json_object_get(q, "indices")); i++)
    for (size_t k = 0; k < json_array_size(json_object_get(s, "indices")); k++)
      if (json_equal(json_array_get(json_object_get(q, "indices"), i), json_array_get(json_object_get(s, "indices"), k)))
        d += json_number_value(json_array_get(json_object_get(q, "values"), i)) *
             json_number_value(json_array_get(json_object_get(s, "values"), k));
  return d;
}

static fq_point *fq_find(const char *id) {
  for (size_t i = 0; i < fq.npts; i++)
    if (!strcmp(fq.pts[i].id, id)) return &fq.pts[i];
  return NULL;
}

static json_t *fq_record(const json_t *pt, const json_t *wp, const json_t *wv, double score, int scored) {
  json_t *r = json_pack("{s:O}", "id", json_object_get(pt, "id"));
  if (scored) {
    json_object_set_new(r, "score", json_real(score));
    json_object_set_new(r, "version", json_integer(1));
  }
  if (json_is_true(wp)) json_object_set(r, "payload", json_object_get(pt, "payload"));
  if (json_is_array(wp)) {
    json_t *pl = json_object();
    size_t i;
    const json_t *k;
    json_array_foreach(wp, i, k)
      if (json_object_get(json_object_get(pt, "payload"), json_string_value(k)))
        json_object_set(pl, json_string_value(k), json_object_get(json_object_get(pt, "payload"), json_string_value(k)));
    json_object_set_new(r, "payload", pl);
  }
  if (json_is_true(wv)) json_object_set(r, "vector", json_object_get(pt, "vector"));
  return r;
}

typedef struct { double s; const json_t *pt; } fq_scored;

static int fq_cmp(const void *a, const void *b) {
  double x = ((const fq_scored *)a)->s, y = ((const fq_scored *)b)->s;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* Answer of one request (caller holds fq.mu); *status set. */
static char *fq_answer(const char *method, const char *url, const json_t *body, int *status) {
  char buf[256];
  *status = 200;
  const char *coll = "/collections/embeddings";
  size_t cl = strlen(coll);
  if (strncmp(url, coll, cl)) {
    *status = 404;
    return strdup("{\"status\":{\"error\":\"Not found\"},\"time\":0}");
  }
  const char *rest = url + cl;
  if (!strcmp(method, "GET") && !*rest) {
    if (!fq.dim) {
      *status = 404;
      return strdup("{\"status\":{\"error\":\"Not found: Collection `embeddings` doesn't exist!\"},\"time\":0}");
    }
    char r[512];
    snprintf(r, sizeof r,
             "{\"status\":\"green\",\"optimizer_status\":\"ok\",\"segments_count\":1,\"points_count\":%zu,"
             "\"config\":{\"params\":{\"vectors\":{\"size\":%d,\"distance\":\"Cosine\"}}},\"payload_schema\":{}}",
             fq.npts, fq.dim);
    char out[700];
    return strdup(fq_ok(r, out, sizeof out));
  }
  if (!strcmp(method, "PUT") && !*rest) {
    if (fq.dim) {
      *status = 400;
      return strdup("{\"status\":{\"error\":\"Wrong input: Collection `embeddings` already exists!\"},\"time\":0}");
    }
    fq.dim = (int)json_integer_value(json_object_get(json_object_get(body, "vectors"), "size"));
    return strdup(fq_ok("true", buf, sizeof buf));
  }
  if (!fq.dim) {
    *status = 404;
    return strdup("{\"status\":{\"error\":\"Not found: Collection `embeddings` doesn't exist!\"},\"time\":0}");
  }
  if (!strcmp(method, "PUT") && !strncmp(rest, "/index", 6))
    return strdup(fq_ok("{\"operation_id\":1,\"status\":\"completed\"}", buf, sizeof buf));
  if (!strcmp(method, "PUT") && !strncmp(rest, "/points?", 8)) {
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(body, "points"), i, p) {
      const json_t *v = fq_dense(json_object_get(p, "vector"));
      if ((int)json_array_size(v) != fq.dim) {
        *status = 400;
        return strdup("{\"status\":{\"error\":\"Wrong input: Vector dimension error\"},\"time\":0}");
      }
      const char *id = json_string_value(json_object_get(p, "id"));
      fq_point *have = fq_find(id);
      if (have) {
        json_decref(have->point);
        have->point = json_deep_copy(p);
        continue;
      }
      if (fq.npts == fq.cap) {
        fq.cap = fq.cap ? 2 * fq.cap : 64;
        fq.pts = realloc(fq.pts, fq.cap * sizeof *fq.pts);
      }
      fq.pts[fq.npts++] = (fq_point){strdup(id), json_deep_copy(p)};
    }
    return strdup(fq_ok("{\"operation_id\":2,\"status\":\"completed\"}", buf, sizeof buf));
  }
  if (!strcmp(method, "POST") && !strcmp(rest, "/points")) {
    json_t *arr = json_array();
    size_t i;
    const json_t *id;
    json_array_foreach(json_object_get(body, "ids"), i, id) {
      fq_point *p = fq_find(json_string_value(id));
      if (p)
        json_array_append_new(arr, fq_record(p->point, json_object_get(body, "with_payload"),
                                             json_object_get(body, "with_vector"), 0, 0));
    }
    char *r = json_dumps(arr, JSON_COMPACT), *out = malloc(strlen(r) + 64);
    fq_ok(r, out, strlen(r) + 64);
    free(r);
    json_decref(arr);
    return out;
  }
  if (!strcmp(method, "POST") && !strcmp(rest, "/points/count")) {
    size_t n = 0;
    for (size_t i = 0; i < fq.npts; i++) n += (size_t)fq_filter(json_object_get(body, "filter"), fq.pts[i].point);
    char r[64];
    snprintf(r, sizeof r, "{\"count\":%zu}", n);
    return strdup(fq_ok(r, buf, sizeof buf));
  }
  if (!strcmp(method, "POST") && !strncmp(rest, "/points/delete?", 15)) {
    size_t k = 0;
    for (size_t i = 0; i < fq.npts; i++) {
      if (fq_filter(json_object_get(body, "filter"), fq.pts[i].point)) {
        free(fq.pts[i].id);
        json_decref(fq.pts[i].point);
      } else {
        fq.pts[k++] = fq.pts[i];
      }
    }
    fq.npts = k;
    return strdup(fq_ok("{\"operation_id\":3,\"status\":\"completed\"}", buf, sizeof buf));
  }
  if (!strcmp(method, "POST") && !strcmp(rest, "/points/query")) {
    const json_t *q = json_object_get(body, "query"), *f = fq.leak ? NULL : json_object_get(body, "filter");
    int sparse = json_is_object(q);
    fq_scored *sc = calloc(fq.npts + 1, sizeof *sc);
    size_t n = 0;
    for (size_t i = 0; i < fq.npts; i++) {
      if (!fq_filter(f, fq.pts[i].point)) continue;
      const json_t *v = json_object_get(fq.pts[i].point, "vector");
      sc[n].s = sparse ? fq_sparse_dot(q, v) : fq_cos(q, fq_dense(v));
      if (sparse && sc[n].s <= 0) continue;
      const json_t *th = json_object_get(body, "score_threshold");
      if (th && sc[n].s < json_number_value(th)) continue;
      sc[n++].pt = fq.pts[i].point;
    }
    qsort(sc, n, sizeof *sc, fq_cmp);
    size_t off = (size_t)json_integer_value(json_object_get(body, "offset"));
    size_t lim = (size_t)json_integer_value(json_object_get(body, "limit"));
    json_t *arr = json_array();
    for (size_t i = off; i < n && i < off + lim; i++)
      json_array_append_new(arr, fq_record(sc[i].pt, json_object_get(body, "with_payload"),
                                           json_object_get(body, "with_vector"), sc[i].s, 1));
    free(sc);
    json_t *res = json_pack("{s:o}", "points", arr);
    char *r = json_dumps(res, JSON_COMPACT), *out = malloc(strlen(r) + 64);
    fq_ok(r, out, strlen(r) + 64);
    free(r);
    json_decref(res);
    return out;
  }
  *status = 404;
  return strdup("{\"status\":{\"error\":\"no such route in the fake\"},\"time\":0}");
}

typedef struct { char *data; size_t len; } fq_body;

static enum MHD_Result fq_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **ctx) {
  (void)cls, (void)version;
  fq_body *b = *ctx;
  if (!b) {
    *ctx = calloc(1, sizeof *b);
    return MHD_YES;
  }
  if (*upload_size) {
    b->data = realloc(b->data, b->len + *upload_size + 1);
    memcpy(b->data + b->len, upload, *upload_size);
    b->len += *upload_size;
    b->data[b->len] = '\0';
    *upload_size = 0;
    return MHD_YES;
  }
  char full[256];
  const char *wait = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
  snprintf(full, sizeof full, "%s%s%s", url, wait ? "?wait=" : "", wait ? wait : "");
  const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "api-key");
  json_t *body = b->data ? json_loads(b->data, 0, NULL) : NULL;
  pthread_mutex_lock(&fq.mu);
  if (fq.nreq < FQ_MAX_REQ) {
    fq_req *r = &fq.reqs[fq.nreq++];
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", full);
    snprintf(r->key, sizeof r->key, "%s", key ? key : "");
    r->body = b->data ? strdup(b->data) : NULL;
  }
  int status;
  char *out;
  if (fq.fail_n > 0) {
    fq.fail_n--;
    status = fq.fail_status;
    out = strdup("{\"status\":{\"error\":\"injected failure\"},\"time\":0}");
  } else if (b->data && !body) {
    status = 400;
    out = strdup("{\"status\":{\"error\":\"Format error in JSON body\"},\"time\":0}");
  } else {
    out = fq_answer(method, full, body, &status);
  }
  int delay = fq.delay_ms;
  pthread_mutex_unlock(&fq.mu);
  if (delay) usleep((useconds_t)delay * 1000);
  json_decref(body);
  struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(out), out, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(resp, "Content-Type", "application/json");
  enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return rc;
}

static void fq_done(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode t) {
  (void)cls, (void)c, (void)t;
  fq_body *b = *ctx;
  if (b) free(b->data);
  free(b);
  *ctx = NULL;
}

static void fq_reset_points(void) {
  for (size_t i = 0; i < fq.npts; i++) {
    free(fq.pts[i].id);
    json_decref(fq.pts[i].point);
  }
  fq.npts = 0;
}

static int fq_start(void) {
  pthread_mutex_init(&fq.mu, NULL);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  fq.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, fq_handler,
                          NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, fq_done,
                          NULL, MHD_OPTION_END);
  if (!fq.d) return -1;
  fq.port = (int)MHD_get_daemon_info(fq.d, MHD_DAEMON_INFO_BIND_PORT)->port;
  return 0;
}

static void fq_stop(void) {
  MHD_stop_daemon(fq.d);
  fq_reset_points();
  free(fq.pts);
  for (int i = 0; i < fq.nreq; i++) free(fq.reqs[i].body);
  pthread_mutex_destroy(&fq.mu);
}

/* Every recorded request as JSON lines {method, path, body} (for the schema check). */
static int fq_dump(const char *file) {
  FILE *f = fopen(file, "w");
  if (!f) return -1;
  pthread_mutex_lock(&fq.mu);
  for (int i = 0; i < fq.nreq; i++) {
    json_t *b = fq.reqs[i].body ? json_loads(fq.reqs[i].body, 0, NULL) : json_null();
    json_t *line = json_pack("{s:s,s:s,s:o}", "method", fq.reqs[i].method, "path", fq.reqs[i].path, "body",
                             b ? b : json_string("<not JSON>"));
    char *s = json_dumps(line, JSON_COMPACT);
    fprintf(f, "%s\n", s);
    free(s);
    json_decref(line);
  }
  pthread_mutex_unlock(&fq.mu);
  return fclose(f);
}

#endif
