/* jobs.c - POST /jobs and GET /jobs/{job_id}. */
#include "api/app.h"
#include "api/handlers.h"
#include "api/validate.h"
#include "util/log.h"

#include <string.h>

void hx_api_jobs_create(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  hx_principal who;
  if (hx_api_auth_or_reply(app, req, resp, &who) || hx_api_rate_or_reply(app, &who, HX_RL_JOBS, resp)) return;
  json_t *body = (req->body && req->body_len) ? hx_v_body(req, resp) : json_object(); /* all fields optional */
  if (!body) return;
  hx_v v;
  hx_v_init(&v, body);
  const char *type = hx_v_str(&v, "type", 0, 1, 100);
  const char *fail_at = hx_v_str(&v, "fail_at_stage", 0, 0, 100);
  if (type && strcmp(type, "mock_process") != 0)
    hx_v_add(&v, "literal_error", "type", "Input should be 'mock_process'", json_string(type),
             json_pack("{s:s}", "expected", "'mock_process'"));
  if (hx_v_done(&v, resp)) goto out;
  json_t *key = json_pack("{s:s}", "type", "mock_process");
  if (fail_at) json_object_set_new(key, "fail_at_stage", json_string(fail_at));
  char id[HX_UUID_STRLEN + 1];
  json_t *args = json_pack("[s?]", fail_at);
  if (hx_api_create_job_or_reply(app, &who, "mock_process", "process_mock", key, args, NULL, resp, id) == 0)
    hx_resp_json(resp, 200, json_pack("{s:s}", "job_id", id));
  json_decref(args);
  json_decref(key);
out:
  json_decref(body);
}

void hx_api_jobs_get(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  hx_principal who;
  if (hx_api_auth_or_reply(app, req, resp, &who)) return;
  char id[HX_UUID_STRLEN + 1];
  if (hx_uuid_canon(req->params[0], id)) {
    hx_v_path_error(resp, "uuid_parsing", "job_id", "Input should be a valid UUID", req->params[0]);
    return;
  }
  hx_job_view v;
  hx_err err = {0};
  int rc = app->ledger->ops->get(app->ledger, id, &v, &err);
  if (rc == HX_ENOENT) { hx_resp_detail(resp, 404, "Job not found"); return; }
  if (rc) { hx_resp_err(resp, &err); return; }
  if (strcmp(v.org_id, who.org_id) != 0) {
    hx_resp_detail(resp, 403, "Access denied");
  } else {
    char c[40], u[40];
    hx_iso8601(v.created_at, c);
    hx_iso8601(v.updated_at, u);
    hx_resp_json(resp, 200,
                 json_pack("{s:s,s:s,s:s?,s:i,s:O?,s:s?,s:s,s:s}", "id", v.id, "status", hx_job_status_api(v.status),
                           "stage", v.stage[0] ? v.stage : NULL, "progress", v.progress, "result", v.result,
                           "error", v.error, "created_at", c, "updated_at", u));
  }
  hx_job_view_release(&v);
}
