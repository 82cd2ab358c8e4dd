/* common.c - what every authenticated handler does: auth, job creation. */
#include "api/app.h"
#include "api/validate.h"
#include "jobs/jobkey.h"
#include "obs/metrics.h"
#include "util/log.h"

#include <math.h>

#include <string.h>

int hx_api_auth_or_reply(hx_app *app, hx_req *req, hx_resp *resp, hx_principal *who) {
  hx_err err = {0};
  if (hx_auth_check(&app->auth, hx_req_header(req, "Authorization"), who, &err) == 0) return 0;
  hx_resp_err(resp, &err);
  if (resp->status == 401)
    snprintf(resp->extra_header[0], sizeof resp->extra_header[0], "WWW-Authenticate: Bearer");
  return -1;
}

int hx_api_rate_or_reply(hx_app *app, const hx_principal *who, hx_rl_class cls, hx_resp *resp) {
  double wait = 0;
  if (!app->limits || hx_ratelimit_take(app->limits, who->org_id, cls, hx_mono(), &wait)) return 0;
  hx_metrics_rate_limited(hx_rl_class_name(cls));
  hx_resp_detail(resp, 429, "Rate limit exceeded: %s requests are limited to %g per second per organization",
                 hx_rl_class_name(cls), hx_ratelimit_rate(app->limits, cls));
  snprintf(resp->extra_header[0], sizeof resp->extra_header[0], "Retry-After: %ld", (long)ceil(wait));
  return -1;
}

json_t *hx_api_begin_or_reply(hx_app *app, hx_req *req, hx_resp *resp, hx_principal *who, hx_rl_class cls) {
  if (hx_api_auth_or_reply(app, req, resp, who) || hx_api_rate_or_reply(app, who, cls, resp)) return NULL;
  return hx_v_body(req, resp);
}

int hx_api_create_job_or_reply(hx_app *app, const hx_principal *who, const char *type, const char *task,
                               json_t *key_payload, json_t *args, json_t *kwargs, hx_resp *resp,
                               char job_id[HX_UUID_STRLEN + 1]) {
  char key[HX_JOB_KEY_LEN + 1];
  hx_err err = {0};
  int rc = hx_job_key(who->org_id, type, key_payload, key);
  if (rc) {
    hx_resp_detail(resp, 500, "cannot compute job key");
    return rc;
  }
  hx_uuid u;
  char id[HX_UUID_STRLEN + 1];
  hx_uuid_v7(&u);
  hx_uuid_str(&u, id);
  json_t *full_args = json_array();
  json_array_append_new(full_args, json_string(id));
  json_array_extend(full_args, args);
  json_t *payload = json_pack("{s:s,s:o,s:o,s:{}}", "queue_name", "default", "args", full_args, "kwargs",
                              kwargs ? json_incref(kwargs) : json_object(), "options");
  hx_job_new j = {.id = id, .org_id = who->org_id, .type = type, .job_key = key, .requested_by = who->user_id,
                  .task_name = task, .payload = payload, .max_attempts = app->cfg.job_max_retries + 1};
  int created = 0;
  rc = app->ledger->ops->create(app->ledger, &j, job_id, &created, &err);
  json_decref(payload);
  if (rc == HX_EUNAVAIL) {
    hx_resp_err(resp, &err);
    return rc;
  }
  if (rc) {
    hx_log(HX_LOG_ERROR, "job_create_failed", json_pack("{s:s,s:s}", "type", type, "error", err.msg));
    hx_resp_detail(resp, rc == HX_ESHUTDOWN ? 503 : 500, "Could not create job");
    return rc;
  }
  if (created) hx_dispatcher_poke(app->disp);
  return 0;
}
