/* search.c - POST /vectors/search and DELETE /vectors/asset/{asset_id}. */
#include "api/app.h"
#include "api/handlers.h"
#include "api/validate.h"
#include "search/search.h"
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

/* A body with a raw `vector`: the numbers parsed straight from the text
 * (util/json.h hx_json_f32_member) and the rest by jansson with "[]" in their
 * place. NULL, and *vector NULL, for any other body, or one jansson rejects
 * once cut: the caller parses it whole, and reports its errors from that. */
static json_t *parse_with_vector(const hx_req *req, int dim, float **vector) {
  /* the cut copy of the body: on the stack when it fits (a body-sized malloc
   * per search made glibc consolidate its fast bins every time) */
  char stack[16384], *cut = NULL;
  size_t at, end;
  *vector = NULL;
  if (!req->body || !memmem(req->body, req->body_len, "\"vector\"", 8)) return NULL;   /* a text query */
  float *v = malloc((size_t)dim * sizeof *v);
  json_t *body = NULL;
  if (v && hx_json_f32_member(req->body, req->body_len, "vector", v, (size_t)dim, &at, &end) == 0) {
    size_t n = req->body_len - (end - at) + 2;
    if ((cut = n <= sizeof stack ? stack : malloc(n))) {
      memcpy(cut, req->body, at);
      memcpy(cut + at, "[]", 2);
      memcpy(cut + at + 2, req->body + end, req->body_len - end);
      body = json_loadb(cut, n, JSON_DECODE_ANY, NULL);
    }
    if (body && !json_is_object(body)) {
      json_decref(body);
      body = NULL;
    }
  }
  if (cut != stack) free(cut);
  if (!body) {
    free(v);
    v = NULL;
  }
  *vector = v;
  return body;
}

void hx_api_vectors_search(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  hx_principal who;
  if (hx_api_auth_or_reply(app, req, resp, &who) || hx_api_rate_or_reply(app, &who, HX_RL_SEARCH, resp)) return;
  float *vector = NULL;
  json_t *body = parse_with_vector(req, app->cfg.vector_size, &vector);
  if (!body && !(body = hx_v_body(req, resp))) return;
  hx_search_plan plan;
  json_t *errors = NULL, *out = NULL;
  hx_err err = {0};
  int rc = hx_search_plan_parse(body, app->cfg.vector_size, vector, &plan, &errors, &err);
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
