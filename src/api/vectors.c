/* vectors.c - POST /vectors/mock, GET and DELETE /vectors/{point_id}. */
#include "api/app.h"
#include "api/handlers.h"
#include "api/validate.h"
#include "embed/mock.h"

#include <stdlib.h>
#include <string.h>

void hx_api_vectors_mock(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  hx_principal who;
  json_t *body = hx_api_begin_or_reply(app, req, resp, &who, HX_RL_EMBED);
  if (!body) return;
  hx_v v;
  hx_v_init(&v, body);
  const char *asset = hx_v_str(&v, "asset_id", 1, 1, 0);
  const char *seg = hx_v_str(&v, "segment_id", 1, 1, 0);
  if (hx_v_done(&v, resp)) goto out;
  json_t *key = json_pack("{s:s,s:s,s:s,s:s}", "asset_id", asset, "segment_id", seg, "model", HX_MOCK_MODEL,
                          "model_ver", HX_MOCK_MODEL_VER);
  json_t *args = json_pack("[s,s,s]", who.org_id, asset, seg);
  char id[HX_UUID_STRLEN + 1];
  if (hx_api_create_job_or_reply(app, &who, "mock_embedding", "mock_embedding", key, args, NULL, resp, id) == 0)
    hx_resp_json(resp, 200, json_pack("{s:s,s:s,s:s}", "job_id", id, "asset_id", asset, "segment_id", seg));
  json_decref(key);
  json_decref(args);
out:
  json_decref(body);
}

/* Parse the {point_id} path parameter; replies 422 itself when it is not a UUID. */
static int point_id_or_reply(hx_req *req, hx_resp *resp, hx_uuid *id) {
  if (hx_uuid_parse(req->params[0], id) == 0) return 0;
  hx_v_path_error(resp, "uuid_parsing", "point_id", "Input should be a valid UUID", req->params[0]);
  return -1;
}

void hx_api_vectors_get(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  hx_principal who;
  hx_uuid id;
  if (hx_api_auth_or_reply(app, req, resp, &who) || point_id_or_reply(req, resp, &id)) return;
  float *vec = NULL;
  int dim = 0;
  json_t *payload = NULL;
  hx_err err = {0};
  int rc = app->vs->ops->get(app->vs, HX_COLLECTION, who.org_id, &id, &vec, &dim, &payload, &err);
  if (rc == HX_ENOENT) {
    hx_resp_detail(resp, 404, "Point not found");
    return;
  }
  if (rc) {
    hx_resp_err(resp, &err);
    return;
  }
  json_t *arr = json_array();
  for (int i = 0; i < dim; i++) json_array_append_new(arr, json_real((double)vec[i]));
  char ids[37];
  hx_uuid_str(&id, ids);
  hx_resp_json(resp, 200, json_pack("{s:s,s:s,s:i,s:o,s:o}", "point_id", ids, "collection", HX_COLLECTION,
                                    "vector_size", dim, "vector", arr, "payload", payload ? payload : json_object()));
  free(vec);
}

void hx_api_vectors_delete(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  hx_principal who;
  hx_uuid id;
  if (hx_api_auth_or_reply(app, req, resp, &who) || point_id_or_reply(req, resp, &id)) return;
  size_t deleted = 0;
  hx_err err = {0};
  int rc = app->vs->ops->del(app->vs, HX_COLLECTION, who.org_id, &id, 1, &deleted, &err);
  if (rc) {
    hx_resp_err(resp, &err);
    return;
  }
  if (!deleted) {
    hx_resp_detail(resp, 404, "Point not found");
    return;
  }
  char ids[37];
  hx_uuid_str(&id, ids);
  hx_resp_json(resp, 200, json_pack("{s:s,s:b}", "point_id", ids, "deleted", 1));
}
