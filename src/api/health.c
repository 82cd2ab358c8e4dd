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
#include "util/log.h"

void hx_api_healthz(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  char started[40];
  hx_iso8601(app->started_at, started);
  hx_resp_json(resp, 200, json_pack("{s:b,s:s,s:s,s:s,s:s,s:f}", "ok", 1, "service", "api", "env", app->cfg.env,
                                    "version", HX_VERSION, "started_at", started, "uptime_seconds",
                                    hx_now() - app->started_at));
}

static json_t *disabled_dep(void) {
  return json_pack("{s:b,s:b,s:n,s:n,s:i,s:s}", "enabled", 0, "skipped", 1, "ok", "latency_ms", "attempts", 0,
                   "reason", "disabled");
}

static json_t *local_dep(int ok, double ms, const char *reason) {
  return json_pack("{s:b,s:b,s:b,s:f,s:i,s:s?}", "enabled", 1, "skipped", 0, "ok", ok, "latency_ms",
                   (double)(long)(ms * 100 + 0.5) / 100, "attempts", 1, "reason", reason);
}

void hx_api_readyz(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  hx_err err = {0};
  long long unsent = 0, open_jobs = 0;
  double t0 = hx_mono();
  int lok = app->ledger->ops->stats(app->ledger, &unsent, &open_jobs, &err) == 0;
  double lms = (hx_mono() - t0) * 1000;
  t0 = hx_mono();
  size_t npts = 0;
  int vok = app->vs->ops->count(app->vs, HX_COLLECTION, "00000000-0000-0000-0000-000000000000", &npts, &err) == 0;
  double vms = (hx_mono() - t0) * 1000;
  int ready = lok && vok;
  json_t *embedded = json_pack("{s:o,s:o,s:o}", "ledger", local_dep(lok, lms, lok ? NULL : "query_failed"),
                               "queue", local_dep(1, 0, NULL), "vector_store",
                               local_dep(vok, vms, vok ? NULL : "query_failed"));
  json_object_set_new(json_object_get(embedded, "ledger"), "outbox_unsent", json_integer(unsent));
  json_object_set_new(json_object_get(embedded, "ledger"), "jobs_open", json_integer(open_jobs));
  json_object_set_new(json_object_get(embedded, "queue"), "depth",
                      json_integer((json_int_t)app->queue->ops->depth(app->queue)));
  json_t *body = json_pack("{s:s,s:s,s:s,s:b,s:s,s:{s:o,s:o,s:o,s:o},s:o}", "service", "api", "env", app->cfg.env,
                           "version", HX_VERSION, "ready", ready, "summary", ready ? "ok" : "down", "deps", "pg",
                           disabled_dep(), "redis", disabled_dep(), "qdrant", disabled_dep(), "gcs", disabled_dep(),
                           "embedded", embedded);
  hx_resp_json(resp, ready ? 200 : 503, body);
}
