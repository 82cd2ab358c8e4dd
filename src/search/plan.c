/*
 * plan.c - POST /vectors/search body -> hx_search_plan, with pydantic-style
 * errors (one item per bad field, loc ["body", field, ...]) so clients of the
 * original keep parsing them. The client filter is compiled once here by the
 * engine's parser (the grammar every backend accepts) so a bad one is a 422
 * naming its path, never a failure deep inside a store.
 */
#include "search/search.h"
#include "vec/vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

typedef struct pv {
  json_t *errors;       /* owned */
  const json_t *body;   /* borrowed */
} pv;

/* loc = ["body", field] or ["body", field, sub] (sub NULL = none, idx >= 0 = array index). */
static void add(pv *v, const char *type, json_t *loc, const char *msg, const json_t *input, json_t *ctx) {
  json_t *e = json_pack("{s:s,s:o,s:s,s:O}", "type", type, "loc", loc, "msg", msg, "input",
                        input ? (json_t *)input : json_null());
  if (ctx) json_object_set_new(e, "ctx", ctx);
  json_array_append_new(v->errors, e);
}

static json_t *loc1(const char *field) { return json_pack("[s,s]", "body", field); }
static json_t *loc2(const char *field, const char *sub) { return json_pack("[s,s,s]", "body", field, sub); }

static const char *str_field(pv *v, const json_t *obj, const char *field, int min_chars) {
  const json_t *x = json_object_get(obj, field);
  if (!x || json_is_null(x)) return NULL;
  if (!json_is_string(x) || strlen(json_string_value(x)) != json_string_length(x)) {
    add(v, "string_type", loc1(field), "Input should be a valid string", x, NULL);
    return NULL;
  }
  if ((int)json_string_length(x) < min_chars) {
    add(v, "string_too_short", loc1(field), "String should have at least 1 character", x,
        json_pack("{s:i}", "min_length", min_chars));
    return NULL;
  }
  return json_string_value(x);
}

/* An integer in [lo, hi] (a float with an integral value counts, as pydantic's lax mode). */
static long long int_in(pv *v, const json_t *obj, const char *field, json_t *(*mkloc)(const char *, const char *),
                        const char *sub, long long lo, long long hi, long long dflt) {
  const json_t *x = json_object_get(obj, sub ? sub : field);
  if (!x || json_is_null(x)) return dflt;
  double d = json_is_integer(x) ? (double)json_integer_value(x) : json_is_real(x) ? json_real_value(x) : NAN;
  json_t *loc = sub ? mkloc(field, sub) : loc1(field);   /* given away to an error, or freed below */
  char msg[96];
  if (isnan(d) || d != floor(d)) {
    add(v, json_is_real(x) ? "int_from_float" : "int_type", loc,
        json_is_real(x) ? "Input should be a valid integer, got a number with a fractional part"
                        : "Input should be a valid integer", x, NULL);
    return dflt;
  }
  if (d < (double)lo) {
    snprintf(msg, sizeof msg, "Input should be greater than or equal to %lld", lo);
    add(v, "greater_than_equal", loc, msg, x, json_pack("{s:I}", "ge", (json_int_t)lo));
    return dflt;
  }
  if (d > (double)hi) {
    snprintf(msg, sizeof msg, "Input should be less than or equal to %lld", hi);
    add(v, "less_than_equal", loc, msg, x, json_pack("{s:I}", "le", (json_int_t)hi));
    return dflt;
  }
  json_decref(loc);
  return (long long)d;
}

static int num(pv *v, const json_t *x, json_t *loc, double *out) {
  if (json_is_number(x)) {
    *out = json_number_value(x);
    json_decref(loc);
    return 0;
  }
  add(v, "float_type", loc, "Input should be a valid number", x, NULL);
  return -1;
}

static int bool_field(pv *v, const char *field) {
  const json_t *x = json_object_get(v->body, field);
  if (!x || json_is_null(x)) return 0;
  if (json_is_boolean(x)) return json_is_true(x);
  add(v, "bool_type", loc1(field), "Input should be a valid boolean", x, NULL);
  return 0;
}

static int enum_field(pv *v, const char *field, const char *const *words, int nwords, const char *expected) {
  const json_t *x = json_object_get(v->body, field);
  if (!x || json_is_null(x)) return 0;
  for (int i = 0; json_is_string(x) && i < nwords; i++)
    if (!strcmp(json_string_value(x), words[i])) return i;
  char msg[128];
  snprintf(msg, sizeof msg, "Input should be %s", expected);
  add(v, "enum", loc1(field), msg, x, json_pack("{s:s}", "expected", expected));
  return 0;
}

/* Only white space, as Python's str.strip() sees it (Unicode Z* and the C0/C1 separators). */
static int blank(const char *s) {
  const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)s;
  size_t len = strlen(s);
  for (size_t i = 0; i < len;) {
    int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(len - i), &c);
    if (k <= 0) return 0;
    i += (size_t)k;
    utf8proc_category_t cat = utf8proc_category(c);
    if (!((c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f) || c == 0x85 || cat == UTF8PROC_CATEGORY_ZS ||
          cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP))
      return 0;
  }
  return 1;
}

/* "filter.must[0].match: text" -> loc ["body","filter","must",0,"match"]. */
static json_t *filter_loc(const char *msg) {
  json_t *loc = json_pack("[s]", "body");
  const char *end = strstr(msg, ": ");
  if (!end || strncmp(msg, "filter", 6)) {
    json_array_append_new(loc, json_string("filter"));
    return loc;
  }
  const char *p = msg;
  while (p < end) {
    size_t n = strcspn(p, ".[");
    if (p + n > end) n = (size_t)(end - p);
    if (n) json_array_append_new(loc, json_stringn(p, n));
    p += n;
    if (p < end && *p == '[') {
      char *e = NULL;
      long long i = strtoll(p + 1, &e, 10);
      json_array_append_new(loc, json_integer(i));
      p = e && *e == ']' ? e + 1 : end;
    }
    if (p < end && *p == '.') p++;
  }
  return loc;
}

static void parse_filter(pv *v, hx_search_plan *p, const char *asset, const char *seg) {
  const json_t *f = json_object_get(v->body, "filter");
  json_t *must = json_array();
  if (f && !json_is_null(f)) {
    hx_vec_filter *compiled = NULL;
    hx_err e = {0};
    if (hx_vec_filter_parse(f, &compiled, &e)) {
      char msg[600];
      snprintf(msg, sizeof msg, "Value error, %s", e.msg);
      add(v, "value_error", filter_loc(e.msg), msg, f, NULL);
    } else if (json_object_size(f)) {   /* {} matches everything: nothing to AND (and no valid nested condition) */
      json_array_append(must, (json_t *)f);
    }
    hx_vec_filter_free(compiled);
  }
  if (asset) json_array_append_new(must, json_pack("{s:s,s:{s:s}}", "key", "asset_id", "match", "value", asset));
  if (seg) json_array_append_new(must, json_pack("{s:s,s:{s:s}}", "key", "segment_id", "match", "value", seg));
  if (json_array_size(must) == 1 && json_object_get(json_array_get(must, 0), "key") == NULL) {
    p->filter = json_incref(json_array_get(must, 0));   /* the client filter alone */
    json_decref(must);
  } else if (json_array_size(must)) {
    p->filter = json_pack("{s:o}", "must", must);
  } else {
    json_decref(must);
  }
}

static void parse_vector(pv *v, hx_search_plan *p, int vector_size, float *pre) {
  if (pre) {
    p->vector = pre;
    p->dim = vector_size;
    return;
  }
  const json_t *x = json_object_get(v->body, "vector");
  if (!x || json_is_null(x)) return;
  if (!json_is_array(x)) {
    add(v, "list_type", loc1("vector"), "Input should be a valid list", x, NULL);
    return;
  }
  size_t n = json_array_size(x);
  if (n != (size_t)vector_size) {
    char msg[128];
    snprintf(msg, sizeof msg, "Value error, vector has %zu dimensions, expected %d", n, vector_size);
    add(v, "value_error", loc1("vector"), msg, x, NULL);
    return;
  }
  p->vector = malloc((n ? n : 1) * sizeof *p->vector);
  if (!p->vector) return;
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    double d = 0;
    if (num(v, json_array_get(x, i), json_pack("[s,s,I]", "body", "vector", (json_int_t)i), &d)) bad = 1;
    else if (!isfinite((float)d)) {
      add(v, "finite_number", json_pack("[s,s,I]", "body", "vector", (json_int_t)i), "Input should be a finite number",
          json_array_get(x, i), NULL);
      bad = 1;
    }
    p->vector[i] = (float)d;
  }
  if (bad) {
    free(p->vector);
    p->vector = NULL;
    return;
  }
  p->dim = (int)n;
}

static void parse_mmr(pv *v, hx_search_plan *p) {
  const json_t *m = json_object_get(v->body, "mmr");
  if (!m || json_is_null(m)) return;
  if (!json_is_object(m)) {
    add(v, "dict_type", loc1("mmr"), "Input should be a valid dictionary", m, NULL);
    return;
  }
  p->mmr = 1;
  p->mmr_lambda = 0.5f;
  const json_t *l = json_object_get(m, "lambda");
  double d = 0.5;
  if (l && !json_is_null(l) && num(v, l, loc2("mmr", "lambda"), &d) == 0) {
    if (!(d >= 0 && d <= 1)) {
      add(v, d < 0 ? "greater_than_equal" : "less_than_equal", loc2("mmr", "lambda"),
          d < 0 ? "Input should be greater than or equal to 0" : "Input should be less than or equal to 1", l,
          d < 0 ? json_pack("{s:i}", "ge", 0) : json_pack("{s:i}", "le", 1));
      d = 0.5;
    }
  }
  p->mmr_lambda = (float)d;
  p->mmr_candidates = (int)int_in(v, m, "mmr", loc2, "candidates", 1, HX_SEARCH_MAX_MMR, HX_SEARCH_MMR_CANDIDATES);
}

/* weights: {"dense": w, "sparse": w}, each a finite number >= 0 (a missing
 * one is 1), not both 0. */
static void parse_weights(pv *v, hx_search_plan *p) {
  const json_t *w = json_object_get(v->body, "weights");
  if (!w || json_is_null(w)) return;
  if (!json_is_object(w)) {
    add(v, "dict_type", loc1("weights"), "Input should be a valid dictionary", w, NULL);
    return;
  }
  const char *key;
  const json_t *x;
  double d[2] = {1, 1};
  int bad = 0;
  json_object_foreach((json_t *)w, key, x) {
    int i = strcmp(key, "dense") == 0 ? 0 : strcmp(key, "sparse") == 0 ? 1 : -1;
    if (i < 0) {
      add(v, "extra_forbidden", loc2("weights", key), "Extra inputs are not permitted (weights are 'dense' and 'sparse')",
          x, NULL);
      bad = 1;
    } else if (num(v, x, loc2("weights", key), &d[i])) {
      bad = 1;
    } else if (!(d[i] >= 0) || !isfinite(d[i])) {
      add(v, "greater_than_equal", loc2("weights", key), "Input should be a finite number greater than or equal to 0",
          x, json_pack("{s:i}", "ge", 0));
      bad = 1;
    }
  }
  if (!bad && d[0] == 0 && d[1] == 0) {
    add(v, "value_error", loc1("weights"), "Value error, at least one weight must be greater than 0", w, NULL);
    bad = 1;
  }
  if (bad) return;
  p->has_weights = 1;
  p->w_dense = (float)d[0];
  p->w_sparse = (float)d[1];
}

int hx_search_plan_parse(const json_t *body, int vector_size, float *vector, hx_search_plan *p, json_t **errors,
                         hx_err *err) {
  static const char *const MODES[] = {"dense", "sparse", "hybrid"}, *const FUSIONS[] = {"rrf", "dbsf"};
  pv v = {json_array(), body};
  memset(p, 0, sizeof *p);
  *errors = NULL;
  const json_t *qt = json_object_get(body, "query_text");
  p->query_text = str_field(&v, body, "query_text", 0);
  p->model = str_field(&v, body, "model", 1);
  const char *asset = str_field(&v, body, "asset_id", 1), *seg = str_field(&v, body, "segment_id", 1);
  p->limit = (size_t)int_in(&v, body, "limit", NULL, NULL, 1, HX_SEARCH_MAX_LIMIT, 10);
  p->offset = (size_t)int_in(&v, body, "offset", NULL, NULL, 0, HX_SEARCH_MAX_OFFSET, 0);
  p->rrf_k = (int)int_in(&v, body, "rrf_k", NULL, NULL, 1, 100000, 60);
  p->mode = (hx_search_mode)enum_field(&v, "mode", MODES, 3, "'dense', 'sparse' or 'hybrid'");
  p->fusion = (hx_search_fusion)enum_field(&v, "fusion", FUSIONS, 2, "'rrf' or 'dbsf'");
  p->with_vector = bool_field(&v, "with_vector");
  p->explain = bool_field(&v, "explain");
  p->exact = bool_field(&v, "exact");
  const json_t *th = json_object_get(body, "score_threshold");
  double t;
  if (th && !json_is_null(th) && num(&v, th, loc1("score_threshold"), &t) == 0) {
    p->has_threshold = 1;
    p->threshold = (float)t;
  }
  parse_vector(&v, p, vector_size, vector);
  parse_mmr(&v, p);
  parse_weights(&v, p);
  parse_filter(&v, p, asset, seg);
  int has_vector = json_object_get(body, "vector") && !json_is_null(json_object_get(body, "vector"));
  if ((!qt || json_is_null(qt)) && (p->mode != HX_SEARCH_DENSE || !has_vector))
    add(&v, "missing", loc1("query_text"),
        p->mode == HX_SEARCH_DENSE ? "Field required" : "Field required (sparse and hybrid search need the text)",
        body, NULL);
  if (json_array_size(v.errors)) {
    *errors = v.errors;
    hx_search_plan_release(p);
    return hx_err_set(err, HX_EINVAL, "invalid search request");
  }
  json_decref(v.errors);
  if (p->query_text && blank(p->query_text)) {
    hx_search_plan_release(p);
    return hx_err_setst(err, HX_EBADREQ, 400, "query_text cannot be empty");
  }
  return 0;
}

void hx_search_plan_release(hx_search_plan *p) {
  if (!p) return;
  free(p->vector);
  json_decref(p->filter);
  p->vector = NULL;
  p->filter = NULL;
}
