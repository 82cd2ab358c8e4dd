/*
 * embed.c - POST /vectors/embed (the original's contract), POST
 * /vectors/embed/batch and GET /models.
 *
 * The requested model really selects the model: it is checked (exists,
 * produces VECTOR_SIZE dimensions) before any job is created. The job key is
 * the original's (text_hash, "default" when no model is given), so identical
 * requests are one job. The text travels in the outbox row only until the job
 * ends.
 */
#include "api/app.h"
#include "api/handlers.h"
#include "api/validate.h"
#include "jobs/jobkey.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int blank(const char *s) {
  for (; *s; s++)
    if (!isspace((unsigned char)*s)) return 0;
  return 1;
}

/* The model field: NULL/absent = default; checked against the registry. A
 * model_ver the client gives must be the model's version (GET /models): a
 * model has only the version that is installed. On failure the response is
 * filled. */
static int model_or_reply(hx_app *app, hx_v *v, const char *ver, const char **model, hx_resp *resp) {
  *model = hx_v_str(v, "model", 0, 1, 64);
  if (hx_v_done(v, resp)) return -1;
  hx_err err = {0};
  hx_model_info info;
  if (hx_models_check(app->models, *model, &info, &err)) {
    hx_resp_err(resp, &err);
    return -1;
  }
  if (ver && strcmp(ver, info.version) != 0) {
    hx_err_setst(&err, HX_EINVAL, 422, "Model %s is at version %s, not %s (omit model_ver to use the installed version)",
                 *model ? *model : hx_models_default_name(app->models), info.version, ver);
    hx_resp_err(resp, &err);
    return -1;
  }
  return 0;
}

void hx_api_vectors_embed(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  hx_principal who;
  json_t *body = hx_api_begin_or_reply(app, req, resp, &who, HX_RL_EMBED);
  if (!body) return;
  hx_v v;
  hx_v_init(&v, body);
  const char *asset = hx_v_str(&v, "asset_id", 1, 1, 0);
  const char *seg = hx_v_str(&v, "segment_id", 1, 1, 0);
  const char *text = hx_v_str(&v, "text", 1, 1, 0);
  const char *ver = hx_v_str(&v, "model_ver", 0, 1, 32);
  if (text && blank(text))
    hx_v_add(&v, "value_error", "text", "Value error, text must not be empty or whitespace-only",
             json_string(text), NULL);
  const char *model;
  if (model_or_reply(app, &v, ver, &model, resp)) goto out;
  char th[17];
  hx_text_hash(text, strlen(text), th);
  json_t *key = json_pack("{s:s,s:s,s:s,s:s,s:s}", "asset_id", asset, "segment_id", seg, "text_hash", th, "model",
                          model ? model : "default", "model_ver", ver ? ver : "v1");
  json_t *kwargs = json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s?}", "org_id", who.org_id, "asset_id", asset, "segment_id", seg,
                             "text", text, "model", model, "model_ver", ver);
  json_t *args = json_array();
  char id[HX_UUID_STRLEN + 1];
  if (hx_api_create_job_or_reply(app, &who, "dispatch_embed_text", "dispatch_embed_text", key, args, kwargs, resp,
                                 id) == 0)
    hx_resp_json(resp, 200, json_pack("{s:s,s:s,s:s}", "job_id", id, "asset_id", asset, "segment_id", seg));
  json_decref(args);
  json_decref(kwargs);
  json_decref(key);
out:
  json_decref(body);
}

void hx_api_vectors_embed_batch(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  hx_principal who;
  json_t *body = hx_api_begin_or_reply(app, req, resp, &who, HX_RL_EMBED);
  if (!body) return;
  hx_v v;
  hx_v_init(&v, body);
  const char *asset = hx_v_str(&v, "asset_id", 1, 1, 0);
  const char *ver = hx_v_str(&v, "model_ver", 0, 1, 32);
  json_t *segs = json_object_get(body, "segments");
  json_t *key_segs = json_array(), *kw_segs = json_array();
  if (!segs) {
    hx_v_add(&v, "missing", "segments", "Field required", json_incref(body), NULL);
  } else if (!json_is_array(segs)) {
    hx_v_add(&v, "list_type", "segments", "Input should be a valid list", json_incref(segs), NULL);
  } else if (json_array_size(segs) == 0 || json_array_size(segs) > (size_t)app->cfg.max_batch_segments) {
    char msg[128];
    snprintf(msg, sizeof msg, "List should have between 1 and %d items", app->cfg.max_batch_segments);
    hx_v_add(&v, json_array_size(segs) ? "too_long" : "too_short", "segments", msg, json_incref(segs), NULL);
  } else {
    size_t i;
    json_t *s;
    json_array_foreach(segs, i, s) {
      /* errors name the item: loc ["body","segments",i,"field"] */
      json_t *sid = json_object_get(s, "segment_id"), *txt = json_object_get(s, "text");
      const char *bad = NULL, *field = NULL, *type = NULL;
      if (!json_is_object(s)) { type = "model_type"; bad = "Input should be a valid dictionary"; field = NULL; }
      else if (!json_is_string(sid) || !*json_string_value(sid)) { type = sid ? "string_type" : "missing"; field = "segment_id"; bad = sid ? "Input should be a non-empty string" : "Field required"; }
      else if (!json_is_string(txt) || blank(json_string_value(txt)) || strlen(json_string_value(txt)) != json_string_length(txt)) {
        type = txt ? "value_error" : "missing"; field = "text";
        bad = txt ? "Value error, text must be a non-empty string" : "Field required";
      }
      if (bad) {
        json_t *loc = json_pack("[s,s,I]", "body", "segments", (json_int_t)i);
        if (field) json_array_append_new(loc, json_string(field));
        json_array_append_new(v.errors, json_pack("{s:s,s:o,s:s,s:O}", "type", type, "loc", loc, "msg", bad, "input",
                                                  field && json_object_get(s, field) ? json_object_get(s, field) : s));
        if (json_array_size(v.errors) >= 20) break; /* enough to fix the request */
        continue;
      }
      char th[17];
      hx_text_hash(json_string_value(txt), json_string_length(txt), th);
      json_array_append_new(key_segs, json_pack("{s:O,s:s}", "segment_id", sid, "text_hash", th));
      json_array_append_new(kw_segs, json_pack("{s:O,s:O}", "segment_id", sid, "text", txt));
    }
  }
  const char *model;
  if (model_or_reply(app, &v, ver, &model, resp)) goto out;
  json_t *key = json_pack("{s:s,s:s,s:s,s:O}", "asset_id", asset, "model", model ? model : "default", "model_ver",
                          ver ? ver : "v1", "segments", key_segs);
  json_t *kwargs = json_pack("{s:s,s:s,s:s?,s:s?,s:O}", "org_id", who.org_id, "asset_id", asset, "model", model,
                             "model_ver", ver, "segments", kw_segs);
  json_t *args = json_array();
  char id[HX_UUID_STRLEN + 1];
  if (hx_api_create_job_or_reply(app, &who, "embed_batch", "embed_batch", key, args, kwargs, resp, id) == 0)
    hx_resp_json(resp, 200, json_pack("{s:s,s:s,s:I}", "job_id", id, "asset_id", asset, "segments",
                                      (json_int_t)json_array_size(kw_segs)));
  json_decref(args);
  json_decref(kwargs);
  json_decref(key);
out:
  json_decref(key_segs);
  json_decref(kw_segs);
  json_decref(body);
}

void hx_api_models(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  hx_principal who;
  if (hx_api_auth_or_reply(app, req, resp, &who)) return;
  hx_model_info *list = NULL;
  size_t n = 0;
  hx_err err = {0};
  if (hx_models_list(app->cfg.models_dir, app->cfg.vector_size, &list, &n, &err)) {
    hx_resp_err(resp, &err);
    return;
  }
  const char *def = hx_models_default_name(app->models);
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:i,s:s,s:b,s:b}", "name", list[i].name, "version",
                                         list[i].version, "dim", list[i].dim, "max_tokens", list[i].max_tokens, "kind",
                                         list[i].kind, "default", !strcmp(list[i].name, def), "usable",
                                         list[i].dim == app->cfg.vector_size));
  free(list);
  hx_resp_json(resp, 200, json_pack("{s:o,s:s,s:i}", "models", arr, "default", def, "vector_size", app->cfg.vector_size));
}
