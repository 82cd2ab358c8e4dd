/*
 * api.c - the routes and handlers of the Qdrant-compatible API (qdrant.h),
 * and its listener. Every JSON handler is an `*_op` run by one wrapper that
 * checks the api key, parses the body, times the call and writes Qdrant's
 * envelope {"result","status":"ok","time"} or error {"status":{"error"},"time"}.
 * Writes are durable when the engine returns, so every update_result says
 * "completed" (wait=true and wait=false alike).
 */
#include "qdrant/qdrant_int.h"
#include "util/log.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*qd_op)(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err);

static unsigned long long op_counter;

static json_t *update_result(void) {
  unsigned long long id = __atomic_add_fetch(&op_counter, 1, __ATOMIC_RELAXED);
  return json_pack("{s:I,s:s}", "operation_id", (json_int_t)id, "status", "completed");
}

static int keys_equal(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  unsigned char d = na != nb;
  for (size_t i = 0; i < na; i++) d |= (unsigned char)(a[i] ^ b[i < nb ? i : 0]);
  return d == 0;
}

/* Qdrant's api_key: `api-key: KEY` or `Authorization: Bearer KEY`. */
static int authorized(hx_qdrant_app *app, hx_req *req, hx_resp *resp) {
  if (!app->api_key[0]) return 1;
  const char *k = req->conn ? hx_req_header(req, "api-key") : NULL;
  const char *auth = req->conn ? hx_req_header(req, "Authorization") : NULL;
  if (!k && auth && !strncasecmp(auth, "Bearer ", 7)) k = auth + 7;
  if (k && keys_equal(k, app->api_key)) return 1;
  hx_resp_json(resp, 401, json_pack("{s:{s:s},s:f}", "status", "error",
                                    k ? "Invalid API key or JWT" : "Must provide an API key or an Authorization bearer token",
                                    "time", 0.0));
  return 0;
}

static int status_of(const hx_err *e) {
  if (e->status) return e->status;
  switch (e->code) {
    case HX_ENOENT: return 404;
    case HX_EINVAL:
    case HX_EBADREQ: return 400;
    case HX_EEXIST: return 409;
    default: return 500;
  }
}

static void run(void *vapp, hx_req *req, hx_resp *resp, qd_op op) {
  hx_qdrant_app *app = vapp;
  double t0 = hx_mono();
  if (!authorized(app, req, resp)) return;
  hx_err err = {0};
  json_t *body = NULL, *result = NULL;
  int rc = 0;
  if (req->body && req->body_len) {
    json_error_t je;
    body = json_loadb(req->body, req->body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!body) rc = hx_err_setst(&err, HX_EBADREQ, 400, "Format error in JSON body: %s at line %d column %d", je.text,
                                 je.line, je.column);
  }
  if (!rc) rc = op(app, req, body, &result, &err);
  double dt = hx_mono() - t0;
  if (rc) {
    int st = status_of(&err);
    const char *msg = err.msg[0] ? err.msg : hx_strerror(err.code);
    char buf[600];
    if (err.code == HX_EINVAL && !err.status) {
      snprintf(buf, sizeof buf, "Wrong input: %s", msg);
      msg = buf;
    } else if (st == 500) {
      snprintf(buf, sizeof buf, "Service internal error: %s", msg);
      msg = buf;
    }
    hx_resp_json(resp, st, json_pack("{s:{s:s},s:f}", "status", "error", msg, "time", dt));
  } else {
    hx_resp_json(resp, 200, json_pack("{s:o,s:s,s:f}", "result", result ? result : json_null(), "status", "ok", "time", dt));
  }
  json_decref(body);
}

#define HANDLER(name) \
  static void name(void *app, hx_req *req, hx_resp *resp) { run(app, req, resp, name##_op); }

static int need_object(const json_t *body, hx_err *err) {
  if (!json_is_object(body)) return hx__qd_bad(err, "expected a JSON object");
  return 0;
}

/* An engine failure as Qdrant reports it: bad input 400 "Wrong input", the rest 500. */
static int engine_err(int rc, const hx_err *e2, hx_err *err) {
  if (rc == HX_EINVAL) return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: %s", e2->msg);
  if (rc == HX_ENOENT) return hx_err_setst(err, HX_ENOENT, 404, "Not found: %s", e2->msg);
  return hx_err_set(err, rc, "%s", e2->msg[0] ? e2->msg : hx_strerror(rc));
}

/* ---- service ---- */

static void root(void *vapp, hx_req *req, hx_resp *resp) {
  if (!authorized(vapp, req, resp)) return;
  hx_resp_json(resp, 200, json_pack("{s:s,s:s}", "title", "qdrant - vector search engine", "version", HX_QDRANT_VERSION));
}

static void text(hx_resp *resp, const char *s) {
  resp->status = 200;
  resp->raw = strdup(s);
  resp->raw_len = resp->raw ? strlen(s) : 0;
  resp->content_type = "text/plain; charset=utf-8";
}

/* Health endpoints need no key in Qdrant either. */
static void healthz(void *app, hx_req *req, hx_resp *resp) { text(resp, "healthz check passed"); }
static void livez(void *app, hx_req *req, hx_resp *resp) { text(resp, "livez check passed"); }
static void readyz(void *app, hx_req *req, hx_resp *resp) { text(resp, "all shards are ready"); }

/* ---- collections ---- */

static int list_collections_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  json_t *names = NULL, *v;
  hx_err e2 = {0};
  int rc = hx_vec_collection_list(app->db, &names, &e2);
  if (rc) return engine_err(rc, &e2, err);
  json_t *arr = json_array();
  size_t i;
  json_array_foreach(names, i, v) json_array_append_new(arr, json_pack("{s:O}", "name", v));
  json_decref(names);
  *result = json_pack("{s:o}", "collections", arr);
  return 0;
}
HANDLER(list_collections)

static int get_collection_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  hx__qd_coll c;
  int rc = hx__qd_coll_load(app->db, req->params[0], &c, err);
  if (rc) return rc;
  *result = hx__qd_info_json(&c);
  hx__qd_coll_release(&c);
  return 0;
}
HANDLER(get_collection)

static int create_collection_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  hx__qd_arena a = {0};
  hx_vec_collection_cfg cfg;
  const char *name = req->params[0];
  int rc = hx__qd_parse_create(body, &a, &cfg, err);
  if (!rc && (strlen(name) > 255 || strpbrk(name, "/\\:*?\"<>|") || !*name))
    rc = hx_err_setst(err, HX_EBADREQ, 422, "Validation error in path parameters: [name: collection name must not contain / \\ : * ? \" < > | and be 1-255 bytes]");
  if (!rc) {
    hx_err e2 = {0};
    rc = hx_vec_collection_create(app->db, name, &cfg, &e2);
    if (rc == HX_EEXIST) rc = hx_err_setst(err, HX_EEXIST, 409, "Wrong input: Collection `%s` already exists!", name);
    else if (rc) rc = engine_err(rc, &e2, err);
  }
  hx__qd_arena_release(&a);
  if (!rc) *result = json_true();
  return rc;
}
HANDLER(create_collection)

static int delete_collection_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  hx_err e2 = {0};
  int rc = hx_vec_collection_drop(app->db, req->params[0], &e2);
  if (rc && rc != HX_ENOENT) return engine_err(rc, &e2, err);
  *result = json_boolean(rc == 0);   /* false: there was no such collection */
  return 0;
}
HANDLER(delete_collection)

static int collection_exists_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  hx__qd_coll c;
  hx_err e2 = {0};
  int rc = hx__qd_coll_load(app->db, req->params[0], &c, &e2);
  if (rc && rc != HX_ENOENT) return hx_err_set(err, rc, "%s", e2.msg);
  hx__qd_coll_release(&c);
  *result = json_pack("{s:b}", "exists", rc == 0);
  return 0;
}
HANDLER(collection_exists)

static int create_index_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  int rc = need_object(body, err);
  if (rc) return rc;
  const char *field = json_string_value(json_object_get(body, "field_name"));
  if (!field) return hx__qd_bad(err, "missing field `field_name`");
  const json_t *fs = json_object_get(body, "field_schema");
  const char *type = json_is_string(fs) ? json_string_value(fs) : json_string_value(json_object_get(fs, "type"));
  if (!fs || json_is_null(fs)) return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: field_schema is required");
  if (!type) return hx__qd_bad(err, "field_schema: expected a type name or {type, ...}");
  static const char *names[] = {"keyword", "integer", "float", "bool", "uuid"};
  static const hx_vec_index_type types[] = {HX_VEC_INDEX_KEYWORD, HX_VEC_INDEX_INTEGER, HX_VEC_INDEX_FLOAT,
                                            HX_VEC_INDEX_BOOL, HX_VEC_INDEX_UUID};
  int t = -1;
  for (int i = 0; i < 5; i++)
    if (!strcmp(type, names[i])) t = i;
  if (t < 0) {
    if (!strcmp(type, "geo") || !strcmp(type, "text") || !strcmp(type, "datetime"))
      return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: payload index type `%s` is not supported", type);
    return hx__qd_bad(err, "field_schema: unknown variant `%s`", type);
  }
  hx__qd_coll c;
  if ((rc = hx__qd_coll_load(app->db, req->params[0], &c, err))) return rc;
  hx__qd_coll_release(&c);
  hx_err e2 = {0};
  /* is_tenant / on_disk / principal are accepted: the engine partitions tenants itself */
  if ((rc = hx_vec_index_create(app->db, req->params[0], field, types[t], &e2))) return engine_err(rc, &e2, err);
  *result = update_result();
  return 0;
}
HANDLER(create_index)

static int delete_index_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  hx__qd_coll c;
  int rc = hx__qd_coll_load(app->db, req->params[0], &c, err);
  if (rc) return rc;
  hx__qd_coll_release(&c);
  hx_err e2 = {0};
  rc = hx_vec_index_drop(app->db, req->params[0], req->params[1], &e2);
  if (rc && rc != HX_ENOENT) return engine_err(rc, &e2, err);
  *result = update_result();
  return 0;
}
HANDLER(delete_index)

/* ---- points ---- */

static int upsert_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  hx__qd_coll c;
  hx__qd_arena a = {0};
  hx_vec_point *pts = NULL;
  size_t n = 0;
  int rc = hx__qd_coll_load(app->db, req->params[0], &c, err);
  if (rc) return rc;
  rc = hx__qd_parse_points(body, &a, &pts, &n, err);
  if (!rc && n) {
    hx_err e2 = {0};
    if ((rc = hx_vec_upsert(app->db, req->params[0], HX_QDRANT_TENANT, pts, n, &e2))) rc = engine_err(rc, &e2, err);
  }
  hx__qd_arena_release(&a);
  hx__qd_coll_release(&c);
  if (!rc) *result = update_result();
  return rc;
}
HANDLER(upsert)

/* PointsSelector-like bodies: ids from `points`, or `filter`; require = one of them must be there. */
static int selector(const json_t *body, hx__qd_arena *a, int require, hx_vec_id **ids, size_t *n, hx_vec_filter **f,
                    hx_err *err) {
  *ids = NULL;
  *n = 0;
  *f = NULL;
  const json_t *pts = json_object_get(body, "points"), *flt = json_object_get(body, "filter");
  if (pts && !json_is_null(pts)) return hx__qd_parse_ids(pts, "points", a, ids, n, err);
  if (flt && !json_is_null(flt)) return hx__qd_parse_filter(flt, f, err);
  if (require) return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: Either list of point ids or filter must be provided");
  return 0;
}

static int delete_points_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  hx__qd_coll c;
  hx__qd_arena a = {0};
  hx_vec_id *ids;
  size_t n, deleted = 0;
  hx_vec_filter *f = NULL;
  int rc = need_object(body, err);
  if (rc || (rc = hx__qd_coll_load(app->db, req->params[0], &c, err))) return rc;
  rc = selector(body, &a, 1, &ids, &n, &f, err);
  hx_err e2 = {0};
  if (!rc && ids && n) rc = hx_vec_delete(app->db, req->params[0], HX_QDRANT_TENANT, ids, n, &deleted, &e2);
  else if (!rc && f) rc = hx_vec_delete_by_filter(app->db, req->params[0], HX_QDRANT_TENANT, f, &deleted, &e2);
  if (rc && e2.code) rc = engine_err(rc, &e2, err);
  hx_vec_filter_free(f);
  hx__qd_arena_release(&a);
  hx__qd_coll_release(&c);
  if (!rc) *result = update_result();
  return rc;
}
HANDLER(delete_points)

static json_t *record_json(const hx__qd_coll *c, const hx_vec_record *r, const hx__qd_sel *sel) {
  json_t *o = json_pack("{s:o}", "id", hx_vec_id_to_json(&r->id));
  hx__qd_put_selected(o, c, r, sel);
  return o;
}

static int get_points_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  hx__qd_coll c;
  hx__qd_arena a = {0};
  hx__qd_sel sel;
  hx_vec_id *ids;
  size_t n;
  int rc = need_object(body, err);
  if (rc || (rc = hx__qd_coll_load(app->db, req->params[0], &c, err))) return rc;
  if (!(rc = hx__qd_parse_sel(body, 1, &sel, err)) &&
      !(rc = hx__qd_parse_ids(json_object_get(body, "ids"), "ids", &a, &ids, &n, err))) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n && !rc; i++) {
      hx_vec_record r = {0};
      hx_err e2 = {0};
      int g = hx_vec_get(app->db, req->params[0], HX_QDRANT_TENANT, &ids[i], hx__qd_sel_flags(&sel), &r, &e2);
      if (g == HX_ENOENT) continue;   /* Qdrant leaves missing ids out */
      if (g) {
        rc = engine_err(g, &e2, err);
        break;
      }
      json_array_append_new(arr, record_json(&c, &r, &sel));
      hx_vec_record_release(&r);
    }
    if (rc) json_decref(arr);
    else *result = arr;
  }
  hx__qd_arena_release(&a);
  hx__qd_coll_release(&c);
  return rc;
}
HANDLER(get_points)

static int get_point_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  hx__qd_coll c;
  hx_vec_id id;
  int rc = hx__qd_coll_load(app->db, req->params[0], &c, err);
  if (rc) return rc;
  hx_err e2 = {0};
  if (hx_vec_id_parse(req->params[1], &id, &e2)) {
    hx__qd_coll_release(&c);
    return hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: Unable to parse point id `%s`", req->params[1]);
  }
  hx_vec_record r = {0};
  rc = hx_vec_get(app->db, req->params[0], HX_QDRANT_TENANT, &id, HX_VEC_WITH_PAYLOAD | HX_VEC_WITH_VECTORS, &r, &e2);
  if (rc == HX_ENOENT) {
    char b[37];
    hx_vec_id_format(&id, b);
    rc = hx_err_setst(err, HX_ENOENT, 404, "Not found: No point with id %s found", b);
  } else if (rc) {
    rc = engine_err(rc, &e2, err);
  } else {
    hx__qd_sel sel = {.payload = 1, .vector = 1};
    *result = record_json(&c, &r, &sel);
  }
  hx_vec_record_release(&r);
  hx__qd_coll_release(&c);
  return rc;
}
HANDLER(get_point)

static int scroll_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  hx__qd_coll c;
  hx__qd_sel sel;
  hx_vec_filter *f = NULL;
  hx_vec_record *recs = NULL;
  size_t n = 0;
  uint64_t limit;
  int rc;
  if (body && !json_is_object(body) && !json_is_null(body)) return hx__qd_bad(err, "expected a JSON object");
  if ((rc = hx__qd_coll_load(app->db, req->params[0], &c, err))) return rc;
  const json_t *off = json_object_get(body, "offset"), *ob = json_object_get(body, "order_by");
  hx_vec_id offset;
  int has_off = off && !json_is_null(off);
  if (ob && !json_is_null(ob))
    rc = hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: order_by is not supported (points are scrolled by id)");
  if (!rc) rc = hx__qd_parse_sel(body, 1, &sel, err);
  if (!rc) rc = hx__qd_get_uint(body, "limit", 10, HX__QD_MAX_LIMIT, &limit, err);
  if (!rc && has_off && hx_vec_id_from_json(off, &offset, NULL))
    rc = hx__qd_bad(err, "offset: point id must be an unsigned integer or a UUID");
  if (!rc) rc = hx__qd_parse_filter(json_object_get(body, "filter"), &f, err);
  int has_next = 0;
  hx_vec_id next;
  hx_err e2 = {0};
  if (!rc && (rc = hx_vec_scroll(app->db, req->params[0], HX_QDRANT_TENANT, has_off ? &offset : NULL, (size_t)limit, f,
                                 hx__qd_sel_flags(&sel), &recs, &n, &has_next, &next, &e2)))
    rc = engine_err(rc, &e2, err);
  if (!rc) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, record_json(&c, &recs[i], &sel));
    *result = json_pack("{s:o,s:o}", "points", arr, "next_page_offset", has_next ? hx_vec_id_to_json(&next) : json_null());
  }
  hx_vec_records_release(recs, n);
  free(recs);
  hx_vec_filter_free(f);
  hx__qd_coll_release(&c);
  return rc;
}
HANDLER(scroll)

static int count_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  hx__qd_coll c;
  hx_vec_filter *f = NULL;
  int exact, rc;
  size_t count = 0;
  if (body && !json_is_object(body) && !json_is_null(body)) return hx__qd_bad(err, "expected a JSON object");
  if ((rc = hx__qd_coll_load(app->db, req->params[0], &c, err))) return rc;
  rc = hx__qd_get_bool(body, "exact", 1, &exact, err);
  if (!rc) rc = hx__qd_parse_filter(json_object_get(body, "filter"), &f, err);
  hx_err e2 = {0};
  if (!rc && (rc = hx_vec_count(app->db, req->params[0], HX_QDRANT_TENANT, f, exact, &count, &e2)))
    rc = engine_err(rc, &e2, err);
  if (!rc) *result = json_pack("{s:I}", "count", (json_int_t)count);
  hx_vec_filter_free(f);
  hx__qd_coll_release(&c);
  return rc;
}
HANDLER(count)

static int payload_update(hx_qdrant_app *app, hx_req *req, const json_t *body, hx_vec_payload_op op, json_t **result,
                          hx_err *err) {
  hx__qd_coll c;
  hx__qd_arena a = {0};
  hx_vec_id *ids;
  size_t n, updated = 0;
  hx_vec_filter *f = NULL;
  int rc = need_object(body, err);
  if (rc || (rc = hx__qd_coll_load(app->db, req->params[0], &c, err))) return rc;
  const json_t *arg = NULL;
  const json_t *key = json_object_get(body, "key");
  if (key && !json_is_null(key))
    rc = hx_err_setst(err, HX_EBADREQ, 400, "Wrong input: payload `key` (nested set) is not supported");
  if (!rc && (op == HX_VEC_PAYLOAD_SET || op == HX_VEC_PAYLOAD_OVERWRITE)) {
    arg = json_object_get(body, "payload");
    if (!json_is_object(arg)) rc = hx__qd_bad(err, "payload: expected an object");
  } else if (!rc && op == HX_VEC_PAYLOAD_DELETE_KEYS) {
    arg = json_object_get(body, "keys");
    if (!json_is_array(arg)) rc = hx__qd_bad(err, "keys: expected an array of strings");
  }
  if (!rc) rc = selector(body, &a, 1, &ids, &n, &f, err);
  hx_err e2 = {0};
  if (!rc && (ids || f) &&
      (rc = hx_vec_payload_update(app->db, req->params[0], HX_QDRANT_TENANT, op, arg, ids, ids ? n : 0, f, &updated, &e2)))
    rc = engine_err(rc, &e2, err);
  hx_vec_filter_free(f);
  hx__qd_arena_release(&a);
  hx__qd_coll_release(&c);
  if (!rc) *result = update_result();
  return rc;
}

static int set_payload_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  return payload_update(app, req, body, HX_VEC_PAYLOAD_SET, result, err);
}
HANDLER(set_payload)
static int overwrite_payload_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  return payload_update(app, req, body, HX_VEC_PAYLOAD_OVERWRITE, result, err);
}
HANDLER(overwrite_payload)
static int delete_payload_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  return payload_update(app, req, body, HX_VEC_PAYLOAD_DELETE_KEYS, result, err);
}
HANDLER(delete_payload)
static int clear_payload_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  return payload_update(app, req, body, HX_VEC_PAYLOAD_CLEAR, result, err);
}
HANDLER(clear_payload)

/* ---- search ---- */

static int query_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  hx__qd_coll c;
  json_t *pts = NULL;
  int rc = need_object(body, err);
  if (rc || (rc = hx__qd_coll_load(app->db, req->params[0], &c, err))) return rc;
  rc = hx__qd_query(app->db, &c, body, &pts, err);
  hx__qd_coll_release(&c);
  if (!rc) *result = json_pack("{s:o}", "points", pts);
  return rc;
}
HANDLER(query)

static int query_batch_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  hx__qd_coll c;
  int rc = need_object(body, err);
  if (rc) return rc;
  const json_t *searches = json_object_get(body, "searches");
  if (!json_is_array(searches)) return hx__qd_bad(err, "searches: expected an array");
  if (json_array_size(searches) > 1000) return hx__qd_bad(err, "searches: at most 1000");
  if ((rc = hx__qd_coll_load(app->db, req->params[0], &c, err))) return rc;
  json_t *arr = json_array(), *s;
  size_t i;
  json_array_foreach(searches, i, s) {
    json_t *pts = NULL;
    if ((rc = hx__qd_query(app->db, &c, s, &pts, err))) break;
    json_array_append_new(arr, json_pack("{s:o}", "points", pts));
  }
  hx__qd_coll_release(&c);
  if (rc) json_decref(arr);
  else *result = arr;
  return rc;
}
HANDLER(query_batch)

/* Legacy POST /points/search (removed from the 1.19 schema, still served by
 * Qdrant): {vector: [..] | {name, vector}} → the same planner; result is a
 * plain array of ScoredPoint. */
static int search_op(hx_qdrant_app *app, hx_req *req, const json_t *body, json_t **result, hx_err *err) {
  int rc = need_object(body, err);
  if (rc) return rc;
  const json_t *v = json_object_get(body, "vector");
  if (!v) return hx__qd_bad(err, "missing field `vector`");
  json_t *q = json_deep_copy(body);
  json_object_del(q, "vector");
  if (json_is_object(v) && json_object_get(v, "name")) {
    json_object_set(q, "using", json_object_get(v, "name"));
    json_object_set(q, "query", json_object_get(v, "vector"));
  } else {
    json_object_set(q, "query", (json_t *)v);
  }
  hx__qd_coll c;
  json_t *pts = NULL;
  if (!(rc = hx__qd_coll_load(app->db, req->params[0], &c, err))) {
    rc = hx__qd_query(app->db, &c, q, &pts, err);
    hx__qd_coll_release(&c);
  }
  json_decref(q);
  if (!rc) *result = pts;
  return rc;
}
HANDLER(search)

#define C "/collections/{collection_name}"
const hx_route hx_qdrant_routes[] = {
    {"GET", "/", root, NULL},
    {"GET", "/healthz", healthz, NULL},
    {"GET", "/livez", livez, NULL},
    {"GET", "/readyz", readyz, NULL},
    {"GET", "/collections", list_collections, NULL},
    {"GET", C, get_collection, NULL},
    {"PUT", C, create_collection, NULL},
    {"DELETE", C, delete_collection, NULL},
    {"GET", C "/exists", collection_exists, NULL},
    {"PUT", C "/index", create_index, NULL},
    {"DELETE", C "/index/{field_name}", delete_index, NULL},
    {"PUT", C "/points", upsert, NULL},
    {"POST", C "/points", get_points, NULL},
    {"POST", C "/points/delete", delete_points, NULL},
    {"POST", C "/points/scroll", scroll, NULL},
    {"POST", C "/points/count", count, NULL},
    {"POST", C "/points/payload", set_payload, NULL},
    {"PUT", C "/points/payload", overwrite_payload, NULL},
    {"POST", C "/points/payload/delete", delete_payload, NULL},
    {"POST", C "/points/payload/clear", clear_payload, NULL},
    {"POST", C "/points/query", query, NULL},
    {"POST", C "/points/query/batch", query_batch, NULL},
    {"POST", C "/points/search", search, NULL},
    {"GET", C "/points/{id}", get_point, NULL},
    {NULL, NULL, NULL, NULL},
};
#undef C

/* ---- listener ---- */

/* 404 / 405 / 413 of the HTTP layer in Qdrant's error shape. */
static void error_body(hx_resp *r, int status, const char *msg) {
  hx_resp_json(r, status, json_pack("{s:{s:s},s:f}", "status", "error", msg, "time", 0.0));
}

struct hx_qdrant {
  hx_qdrant_app app;
  hx_http *http;
};

int hx_qdrant_start(struct hx_vec *db, int threads, long max_body, hx_qdrant **out, hx_err *err) {
  *out = NULL;
  const char *listen = getenv("HEIMDEX_QDRANT_LISTEN");
  if (!listen || !*listen) return 0;
  char host[64];
  const char *colon = strrchr(listen, ':');
  char *end = NULL;
  long port = colon ? strtol(colon + 1, &end, 10) : -1;
  if (!colon || colon == listen || !end || *end || colon[1] == '\0' || port < 0 || port > 65535 ||
      (size_t)(colon - listen) >= sizeof host)
    return hx_err_set(err, HX_ECONFIG, "HEIMDEX_QDRANT_LISTEN=%s is not HOST:PORT", listen);
  memcpy(host, listen, (size_t)(colon - listen));
  host[colon - listen] = '\0';
  if (!db)
    return hx_err_set(err, HX_ECONFIG, "HEIMDEX_QDRANT_LISTEN needs the built-in engine as the vector store"
                                       " (not available with the PostgreSQL topology)");
  const char *key = getenv("HEIMDEX_QDRANT_API_KEY");
  if (key && strlen(key) >= sizeof((hx_qdrant_app *)0)->api_key)
    return hx_err_set(err, HX_ECONFIG, "HEIMDEX_QDRANT_API_KEY is longer than 255 bytes");
  hx_qdrant *q = calloc(1, sizeof *q);
  if (!q) return hx_err_set(err, HX_ENOMEM, "out of memory");
  q->app.db = db;
  if (key) snprintf(q->app.api_key, sizeof q->app.api_key, "%s", key);
  hx_http_opts ho = {host, (int)port, threads, max_body, hx_qdrant_routes, &q->app, error_body};
  int rc = hx_http_start(&ho, &q->http, err);
  if (rc) {
    free(q);
    return rc;
  }
  *out = q;
  return 0;
}

int hx_qdrant_port(hx_qdrant *q) { return q ? hx_http_port(q->http) : 0; }

void hx_qdrant_quiesce(hx_qdrant *q) {
  if (q) hx_http_quiesce(q->http);
}

void hx_qdrant_stop(hx_qdrant *q) {
  if (!q) return;
  hx_http_stop(q->http);
  free(q);
}
