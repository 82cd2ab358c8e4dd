/*
 * validate.h - request-body validation with FastAPI/pydantic's error shape:
 *   422 {"detail":[{"type","loc","msg","input"[,"ctx"]}, ...]}
 * so clients of the original keep parsing our errors.
 */
#ifndef HX_API_VALIDATE_H
#define HX_API_VALIDATE_H

#include <jansson.h>

#include "http/server.h"

/* Parse the body as a JSON object. On failure fills resp (422 json_invalid,
 * missing body, or model_attributes_type) and returns NULL. Caller decrefs. */
json_t *hx_v_body(hx_req *req, hx_resp *resp);

typedef struct hx_v {
  json_t *errors;   /* array, owned */
  json_t *body;     /* borrowed */
} hx_v;

void hx_v_init(hx_v *v, json_t *body);
/* The field as a string (borrowed), or NULL: records missing / string_type /
 * string_too_short / string_too_long. max_chars 0 = unlimited. If !required, a missing
 * or null field returns NULL without an error. */
const char *hx_v_str(hx_v *v, const char *field, int required, size_t min_chars, size_t max_chars);
/* Add an error of any type at loc ["body", field]. */
void hx_v_add(hx_v *v, const char *type, const char *field, const char *msg, json_t *input, json_t *ctx);
/* If errors were recorded: fill resp with 422 and return 1. Releases v either way. */
int hx_v_done(hx_v *v, hx_resp *resp);

/* 422 for a bad path parameter (loc ["path", name]). */
void hx_v_path_error(hx_resp *resp, const char *type, const char *name, const char *msg, const char *input);

#endif
