/*
 * health.c - GET /healthz (liveness) and GET /readyz (readiness).
 *
 * /readyz keeps the original shape: deps.{pg,redis,qdrant,gcs} each
 * {enabled,skipped,ok,latency_ms,attempts,reason}. In embedded mode those
 * answer "disabled" and the embedded parts (ledger, queue, vector store)
 * report under "embedded" with the same entry shape.
 */
#include "api/app.h"
#include "api/handlers.h"
#include "obs/metrics.h"
#include "util/log.h"
#include "util/sqlw.h"

#include <stdlib.h>
#include <string.h>

void hx_api_metrics(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  hx_metrics_gauges g = {.uptime_s = hx_now() - app->started_at};
  hx_ledger_stats ls = {0};
  hx_err err = {0};
  if (app->ledger->ops->stats(app->ledger, &ls, &err) == 0) {
    g.outbox_unsent = ls.outbox_unsent;
    g.outbox_oldest_age_s = ls.outbox_oldest_age_s;
    g.jobs_open = ls.jobs_open;
  }
  g.queue_depth = (long long)app->queue->ops->depth(app->queue);
  size_t pts = 0, pending = 0;
  if (app->vs->ops->total(app->vs, &pts, &pending, &err) == 0) {
    g.vector_points = (long long)pts;
    g.vector_points_unindexed = (long long)pending;
  }
  g.sqlite_bytes = hx_sqlw_memory_bytes();
  if (req->server) {
    size_t q, f;
    hx_http_load(req->server, &q, &f);
    g.http_queued = (long long)q;
    g.http_inflight = (long long)f;
  }
  hx_buf b;
  hx_buf_init(&b, (size_t)64 << 20);
  if (hx_metrics_render(&g, &b)) {
    hx_buf_release(&b);
    hx_resp_detail(resp, 500, "metrics could not be rendered");
    return;
  }
  resp->status = 200;
  resp->raw = hx_buf_steal(&b, &resp->raw_len);
  resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* docs/openapi.json and docs/api.html, embedded at build time (CMakeLists.txt) */
extern const unsigned char hx_doc_openapi_json[], hx_doc_api_html[];
extern const unsigned long hx_doc_openapi_json_len, hx_doc_api_html_len;

static void raw(hx_resp *resp, const unsigned char *data, unsigned long len, const char *type) {
  resp->status = 200;
  resp->raw = malloc(len + 1);
  if (!resp->raw) {
    hx_resp_detail(resp, 500, "out of memory");
    return;
  }
  memcpy(resp->raw, data, len);
  resp->raw_len = len;
  resp->content_type = type;
}

void hx_api_openapi(void *a, hx_req *req, hx_resp *resp) {
  raw(resp, hx_doc_openapi_json, hx_doc_openapi_json_len, "application/json");
}

void hx_api_docs(void *a, hx_req *req, hx_resp *resp) {
  raw(resp, hx_doc_api_html, hx_doc_api_html_len, "text/html; charset=utf-8");
}

void hx_api_healthz(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  char started[40];
  hx_iso8601(app->started_at, started);
  hx_resp_json(resp, 200, json_pack("{s:b,s:s,s:s,s:s,s:s,s:f}", "ok", 1, "service", "api", "env", app->cfg.env,
                                    "version", HX_VERSION, "started_at", started, "uptime_seconds",
                                    hx_now() - app->started_at));
}

static json_t *local_dep(int ok, double ms, const char *reason) {
  return json_pack("{s:b,s:b,s:b,s:f,s:i,s:s?}", "enabled", 1, "skipped", 0, "ok", ok, "latency_ms",
                   (double)(long)(ms * 100 + 0.5) / 100, "attempts", 1, "reason", reason);
}

void hx_api_readyz(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  static const char *const deps[] = {"pg", "redis", "qdrant", "gcs"};
  int ready = 1;
  json_t *dj = json_object();
  for (int i = 0; i < 4; i++) {
    json_t *d = hx_probes_check(app->probes, deps[i]);
    if (json_is_true(json_object_get(d, "enabled")) && !json_is_true(json_object_get(d, "ok"))) ready = 0;
    json_object_set_new(dj, deps[i], d);
  }
  /* the embedded parts this process uses report themselves in the same shape */
  json_t *embedded = json_object();
  hx_err err = {0};
  if (!app->cfg.use_pg) {
    hx_ledger_stats ls = {0};
    double t0 = hx_mono();
    int ok = app->ledger->ops->stats(app->ledger, &ls, &err) == 0;
    json_t *e = local_dep(ok, (hx_mono() - t0) * 1000, ok ? NULL : "query_failed");
    json_object_set_new(e, "outbox_unsent", json_integer(ls.outbox_unsent));
    json_object_set_new(e, "jobs_open", json_integer(ls.jobs_open));
    json_object_set_new(embedded, "ledger", e);
    ready &= ok;
  }
  if (!app->cfg.redis_url[0]) {
    json_t *e = local_dep(1, 0, NULL);
    json_object_set_new(e, "depth", json_integer((json_int_t)app->queue->ops->depth(app->queue)));
    json_object_set_new(embedded, "queue", e);
  }
  if (!(app->cfg.enable_qdrant && app->cfg.qdrant_url[0])) {  /* on Qdrant: deps.qdrant says it */
    double t0 = hx_mono();
    size_t npts = 0;
    int vok = app->vs->ops->count(app->vs, HX_COLLECTION, "00000000-0000-0000-0000-000000000000", NULL, &npts, &err) == 0;
    json_object_set_new(embedded, "vector_store", local_dep(vok, (hx_mono() - t0) * 1000, vok ? NULL : "query_failed"));
    ready &= vok;
  }
  json_t *body = json_pack("{s:s,s:s,s:s,s:b,s:s,s:o,s:o}", "service", "api", "env", app->cfg.env, "version",
                           HX_VERSION, "ready", ready, "summary", ready ? "ok" : "down", "deps", dj, "embedded", embedded);
  hx_resp_json(resp, ready ? 200 : 503, body);
}
