/* validate.c - pydantic-compatible validation errors. */
#include "api/validate.h"

#include <stdio.h>
#include <string.h>

static json_t *err_item(const char *type, json_t *loc, const char *msg, json_t *input, json_t *ctx) {
  json_t *e = json_pack("{s:s,s:o,s:s,s:o}", "type", type, "loc", loc, "msg", msg, "input", input ? input : json_null());
  if (ctx) json_object_set_new(e, "ctx", ctx);
  return e;
}

static void reply_422(hx_resp *resp, json_t *items) {
  hx_resp_json(resp, 422, json_pack("{s:o}", "detail", items));
}

json_t *hx_v_body(hx_req *req, hx_resp *resp) {
  if (!req->body || req->body_len == 0) {
    reply_422(resp, json_pack("[o]", err_item("missing", json_pack("[s]", "body"), "Field required", json_null(), NULL)));
    return NULL;
  }
  json_error_t je;
  json_t *j = json_loadb(req->body, req->body_len, JSON_DECODE_ANY, &je);
  if (!j) {
    reply_422(resp, json_pack("[o]", err_item("json_invalid", json_pack("[s,i]", "body", je.position), "JSON decode error",
                                              json_object(), json_pack("{s:s}", "error", je.text))));
    return NULL;
  }
  if (!json_is_object(j)) {
    reply_422(resp, json_pack("[o]", err_item("model_attributes_type", json_pack("[s]", "body"),
                                              "Input should be a valid dictionary or object to extract fields from",
                                              json_incref(j), NULL)));
    json_decref(j);
    return NULL;
  }
  return j;
}

void hx_v_init(hx_v *v, json_t *body) {
  v->errors = json_array();
  v->body = body;
}

void hx_v_add(hx_v *v, const char *type, const char *field, const char *msg, json_t *input, json_t *ctx) {
  json_array_append_new(v->errors, err_item(type, json_pack("[s,s]", "body", field), msg, input, ctx));
}

static size_t utf8_chars(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xc0) != 0x80;
  return n;
}

const char *hx_v_str(hx_v *v, const char *field, int required, size_t min_chars, size_t max_chars) {
  json_t *x = json_object_get(v->body, field);
  if (!x || (!required && json_is_null(x))) {
    if (required) hx_v_add(v, "missing", field, "Field required", json_incref(v->body), NULL);
    return NULL;
  }
  if (!json_is_string(x)) {
    hx_v_add(v, "string_type", field, "Input should be a valid string", json_incref(x), NULL);
    return NULL;
  }
  const char *s = json_string_value(x);
  if (strlen(s) != json_string_length(x)) {
    hx_v_add(v, "string_type", field, "Input should be a valid string without NUL characters", json_incref(x), NULL);
    return NULL;
  }
  size_t n = utf8_chars(s);
  char msg[96];
  if (n < min_chars) {
    snprintf(msg, sizeof msg, "String should have at least %zu character%s", min_chars, min_chars == 1 ? "" : "s");
    hx_v_add(v, "string_too_short", field, msg, json_incref(x), json_pack("{s:I}", "min_length", (json_int_t)min_chars));
    return NULL;
  }
  if (max_chars && n > max_chars) {
    snprintf(msg, sizeof msg, "String should have at most %zu character%s", max_chars, max_chars == 1 ? "" : "s");
    hx_v_add(v, "string_too_long", field, msg, json_incref(x), json_pack("{s:I}", "max_length", (json_int_t)max_chars));
    return NULL;
  }
  return s;
}

int hx_v_done(hx_v *v, hx_resp *resp) {
  int bad = json_array_size(v->errors) > 0;
  if (bad) reply_422(resp, json_incref(v->errors));
  json_decref(v->errors);
  v->errors = NULL;
  return bad;
}

void hx_v_path_error(hx_resp *resp, const char *type, const char *name, const char *msg, const char *input) {
  json_t *in = json_string(input); /* NULL for invalid UTF-8 */
  reply_422(resp, json_pack("[o]", err_item(type, json_pack("[s,s]", "path", name), msg, in ? in : json_null(), NULL)));
}
