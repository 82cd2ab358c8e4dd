/* search.c - POST /vectors/search and DELETE /vectors/asset/{asset_id}. */
#include "api/app.h"
#include "api/handlers.h"
#include "api/validate.h"
#include "search/search.h"

#include <string.h>

void hx_api_vectors_search(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  hx_principal who;
  json_t *body = hx_api_begin_or_reply(app, req, resp, &who, HX_RL_SEARCH);
  if (!body) return;
  hx_search_plan plan;
  json_t *errors = NULL, *out = NULL;
  hx_err err = {0};
  int rc = hx_search_plan_parse(body, app->cfg.vector_size, &plan, &errors, &err);
  if (rc) {
    if (errors) hx_resp_json(resp, 422, json_pack("{s:o}", "detail", errors));
    else hx_resp_err(resp, &err);
    json_decref(body);
    return;
  }
  rc = hx_search_run(app->search, app->vs, app->models, who.org_id, &plan, &out, &err);
  if (rc) hx_resp_err(resp, &err);
  else hx_resp_json(resp, 200, out);
  hx_search_plan_release(&plan);
  json_decref(body);
}

void hx_api_vectors_delete_asset(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  hx_principal who;
  if (hx_api_auth_or_reply(app, req, resp, &who)) return;
  const char *asset = req->params[0];
  if (!asset || !*asset) {
    hx_v_path_error(resp, "string_too_short", "asset_id", "String should have at least 1 character", "");
    return;
  }
  json_t *filter = json_pack("{s:[{s:s,s:{s:s}}]}", "must", "key", "asset_id", "match", "value", asset);
  if (!filter) {   /* not valid UTF-8 */
    hx_v_path_error(resp, "string_unicode", "asset_id", "Input should be a valid string", asset);
    return;
  }
  size_t deleted = 0;
  hx_err err = {0};
  int rc = app->vs->ops->del_where(app->vs, HX_COLLECTION, who.org_id, filter, &deleted, &err);
  json_decref(filter);
  if (rc) {
    hx_resp_err(resp, &err);
    return;
  }
  hx_resp_json(resp, 200, json_pack("{s:s,s:I}", "asset_id", asset, "deleted", (json_int_t)deleted));
}
