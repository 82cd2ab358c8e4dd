/*
 * filter.c - Qdrant filter JSON → compiled filter, and its evaluation on one
 * point. The parser is the only place client-written filter JSON is trusted, so
 * it rejects anything it does not understand with the exact path of the fault
 * ("filter.must[0].match: expected value, any, except or text"); it never
 * asserts on input and has a fuzz target (tests/unit/vec/test_fuzz.c).
 *
 * Semantics follow Qdrant: a key path reaches every value under it (arrays are
 * flattened); a field condition holds if ANY reached value satisfies it; with no
 * value (missing or null) only `except` holds (the missing value is not one of
 * the excluded values) — as Qdrant checks a missing field against null.
 * is_empty: missing, null or []. is_null: present and null.
 */
#include "vec/filter_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXVALS 256

int hx__path_split(const char *key, char ***out, size_t *n) {
  size_t cnt = 1;
  for (const char *p = key; *p; p++) cnt += *p == '.';
  char **segs = calloc(cnt, sizeof *segs);
  if (!segs) return -1;
  size_t k = 0;
  const char *s = key;
  for (;;) {
    const char *e = strchr(s, '.');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (len >= 2 && s[len - 2] == '[' && s[len - 1] == ']') len -= 2;
    segs[k] = strndup(s, len);
    if (!segs[k]) {
      hx__path_free(segs, k);
      return -1;
    }
    k++;
    if (!e) break;
    s = e + 1;
  }
  *out = segs;
  *n = k;
  return 0;
}

void hx__path_free(char **p, size_t n) {
  if (!p) return;
  for (size_t i = 0; i < n; i++) free(p[i]);
  free(p);
}

static void collect(const json_t *v, char *const *path, size_t npath, const json_t **out,
                    size_t cap, size_t *n, int *has_null) {
  if (!v) return;
  if (json_is_array(v)) {
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
      if (npath == 0 && json_is_array(e)) {
        if (*n < cap) out[*n] = e; /* nested arrays count as one value */
        (*n)++;
      } else {
        collect(e, path, npath, out, cap, n, has_null);
      }
    }
    return;
  }
  if (npath == 0) {
    if (json_is_null(v)) {
      *has_null = 1;
      return;
    }
    if (*n < cap) out[*n] = v;
    (*n)++;
    return;
  }
  if (json_is_object(v)) collect(json_object_get(v, path[0]), path + 1, npath - 1, out, cap, n, has_null);
}

size_t hx__payload_values(const json_t *payload, char *const *path, size_t npath,
                          const json_t **out, size_t cap, int *has_null) {
  size_t n = 0;
  *has_null = 0;
  if (payload && npath) collect(json_object_get(payload, path[0]), path + 1, npath - 1, out, cap, &n, has_null);
  return n;
}

size_t hx__value_key(const json_t *v, char *buf, size_t cap) {
  int n;
  if (json_is_string(v)) {
    size_t l = json_string_length(v);
    if (l + 3 > cap) return 0;
    buf[0] = 's';
    buf[1] = ':';
    memcpy(buf + 2, json_string_value(v), l);
    return l + 2;
  } else if (json_is_integer(v)) {
    n = snprintf(buf, cap, "i:%lld", (long long)json_integer_value(v));
  } else if (json_is_boolean(v)) {
    n = snprintf(buf, cap, "b:%d", json_is_true(v));
  } else {
    return 0;
  }
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int scalar_eq(const json_t *a, const json_t *b) {
  if (json_is_string(a) && json_is_string(b))
    return json_string_length(a) == json_string_length(b) &&
           !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
  if (json_is_integer(a) && json_is_integer(b)) return json_integer_value(a) == json_integer_value(b);
  if (json_is_boolean(a) && json_is_boolean(b)) return json_is_true(a) == json_is_true(b);
  return 0;
}

static int in_list(const json_t *v, const json_t *list) {
  size_t i;
  const json_t *e;
  json_array_foreach(list, i, e) if (scalar_eq(v, e)) return 1;
  return 0;
}

static int in_range(const hx__cond *c, double x) {
  if (c->has_gt && !(x > c->gt)) return 0;
  if (c->has_gte && !(x >= c->gte)) return 0;
  if (c->has_lt && !(x < c->lt)) return 0;
  if (c->has_lte && !(x <= c->lte)) return 0;
  return 1;
}

static int filter_match(const hx_vec_filter *f, const hx_vec_id *id, const json_t *payload);

int hx__cond_match(const hx__cond *c, const hx_vec_id *id, const json_t *payload) {
  const json_t *vals[MAXVALS];
  int has_null = 0;
  size_t n = 0, i;
  switch (c->kind) {
  case HX__C_HAS_ID:
    if (!id) return 0;
    for (i = 0; i < c->nids; i++)
      if (!hx_vec_id_cmp(&c->ids[i], id)) return 1;
    return 0;
  case HX__C_FILTER:
    return filter_match(c->sub, id, payload);
  default:
    break;
  }
  n = hx__payload_values(payload, c->path, c->npath, vals, MAXVALS, &has_null);
  size_t m = n < MAXVALS ? n : MAXVALS;
  switch (c->kind) {
  case HX__C_IS_EMPTY:
    return n == 0;
  case HX__C_IS_NULL:
    return has_null;
  case HX__C_VALUES_COUNT:
    return in_range(c, (double)n);
  case HX__C_MATCH_EXCEPT:
    if (m == 0) return 1;
    for (i = 0; i < m; i++)
      if (!in_list(vals[i], c->vals)) return 1;
    return 0;
  case HX__C_MATCH_VALUE:
  case HX__C_MATCH_ANY:
    for (i = 0; i < m; i++)
      if (in_list(vals[i], c->vals)) return 1;
    return 0;
  case HX__C_MATCH_TEXT: {
    const char *t = json_string_value(json_array_get(c->vals, 0));
    for (i = 0; i < m; i++)
      if (json_is_string(vals[i]) && strstr(json_string_value(vals[i]), t)) return 1;
    return 0;
  }
  case HX__C_RANGE:
    for (i = 0; i < m; i++)
      if (json_is_number(vals[i]) && in_range(c, json_number_value(vals[i]))) return 1;
    return 0;
  case HX__C_NESTED:
    for (i = 0; i < m; i++)
      if (json_is_object(vals[i]) && filter_match(c->sub, NULL, vals[i])) return 1;
    return 0;
  default:
    return 0;
  }
}

static int filter_match(const hx_vec_filter *f, const hx_vec_id *id, const json_t *payload) {
  size_t i;
  for (i = 0; i < f->nmust; i++)
    if (!hx__cond_match(&f->must[i], id, payload)) return 0;
  for (i = 0; i < f->nmust_not; i++)
    if (hx__cond_match(&f->must_not[i], id, payload)) return 0;
  if (f->nshould) {
    int any = 0;
    for (i = 0; i < f->nshould && !any; i++) any = hx__cond_match(&f->should[i], id, payload);
    if (!any) return 0;
  }
  if (f->min_count) {
    size_t hits = 0;
    for (i = 0; i < f->nmin_should && hits < f->min_count; i++)
      hits += (size_t)hx__cond_match(&f->min_should[i], id, payload);
    if (hits < f->min_count) return 0;
  }
  return 1;
}

int hx_vec_filter_match(const hx_vec_filter *f, const hx_vec_id *id, const json_t *payload) {
  return !f || filter_match(f, id, payload);
}

/* ---- parsing ---- */

static void cond_release(hx__cond *c) {
  free(c->key);
  hx__path_free(c->path, c->npath);
  json_decref(c->vals);
  free(c->ids);
  hx_vec_filter_free(c->sub);
}

static void conds_free(hx__cond *c, size_t n) {
  for (size_t i = 0; i < n; i++) cond_release(&c[i]);
  free(c);
}

void hx_vec_filter_free(hx_vec_filter *f) {
  if (!f) return;
  conds_free(f->must, f->nmust);
  conds_free(f->should, f->nshould);
  conds_free(f->must_not, f->nmust_not);
  conds_free(f->min_should, f->nmin_should);
  free(f);
}

static int parse_filter(const json_t *j, const char *where, int depth, int nested,
                        hx_vec_filter **out, hx_err *err);

static int scalar_ok(const json_t *v) {
  return json_is_string(v) || json_is_integer(v) || json_is_boolean(v);
}

static int parse_range(const json_t *r, const char *where, hx__cond *c, hx_err *err) {
  static const char *names[] = {"gt", "gte", "lt", "lte"};
  int *has[] = {&c->has_gt, &c->has_gte, &c->has_lt, &c->has_lte};
  double *val[] = {&c->gt, &c->gte, &c->lt, &c->lte};
  if (!json_is_object(r)) return hx_err_set(err, HX_EINVAL, "%s: expected an object", where);
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)r, k, v) {
    int found = 0;
    for (int i = 0; i < 4; i++) {
      if (strcmp(k, names[i])) continue;
      found = 1;
      if (json_is_null(v)) break;
      if (!json_is_number(v))
        return hx_err_set(err, HX_EINVAL, "%s.%s: expected a number", where, k);
      *has[i] = 1;
      *val[i] = json_number_value(v);
    }
    if (!found)
      return hx_err_set(err, HX_EINVAL, "%s: unknown field '%s' (expected gt, gte, lt or lte)",
                        where, k);
  }
  return 0;
}

static int parse_cond(const json_t *j, const char *where, int depth, int nested, hx__cond *c,
                      hx_err *err) {
  char w[400];
  int rc;
  memset(c, 0, sizeof *c);
  if (!json_is_object(j)) return hx_err_set(err, HX_EINVAL, "%s: expected an object", where);
  json_t *key = json_object_get(j, "key");
  if (json_object_get(j, "has_id")) {
    if (nested) return hx_err_set(err, HX_EINVAL, "%s.has_id: not allowed inside nested", where);
    const json_t *ids = json_object_get(j, "has_id");
    if (!json_is_array(ids)) return hx_err_set(err, HX_EINVAL, "%s.has_id: expected an array", where);
    c->kind = HX__C_HAS_ID;
    c->nids = json_array_size(ids);
    c->ids = calloc(c->nids ? c->nids : 1, sizeof *c->ids);
    if (!c->ids) return hx_err_set(err, HX_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->nids; i++) {
      snprintf(w, sizeof w, "%s.has_id[%zu]", where, i);
      hx_err e2 = {0};
      if (hx_vec_id_from_json(json_array_get(ids, i), &c->ids[i], &e2))
        return hx_err_set(err, HX_EINVAL, "%s: %s", w, e2.msg);
    }
    return 0;
  }
  const char *single[] = {"is_empty", "is_null"};
  for (int i = 0; i < 2; i++) {
    const json_t *o = json_object_get(j, single[i]);
    if (!o) continue;
    const json_t *k = json_object_get(o, "key");
    if (!json_is_string(k) || !json_string_length(k))
      return hx_err_set(err, HX_EINVAL, "%s.%s.key: expected a non-empty string", where, single[i]);
    c->kind = i ? HX__C_IS_NULL : HX__C_IS_EMPTY;
    c->key = strdup(json_string_value(k));
    if (!c->key || hx__path_split(c->key, &c->path, &c->npath))
      return hx_err_set(err, HX_ENOMEM, "out of memory");
    return 0;
  }
  if (json_object_get(j, "nested")) {
    const json_t *o = json_object_get(j, "nested");
    const json_t *k = json_object_get(o, "key");
    if (!json_is_string(k) || !json_string_length(k))
      return hx_err_set(err, HX_EINVAL, "%s.nested.key: expected a non-empty string", where);
    c->kind = HX__C_NESTED;
    c->key = strdup(json_string_value(k));
    if (!c->key || hx__path_split(c->key, &c->path, &c->npath))
      return hx_err_set(err, HX_ENOMEM, "out of memory");
    snprintf(w, sizeof w, "%s.nested.filter", where);
    return parse_filter(json_object_get(o, "filter"), w, depth + 1, 1, &c->sub, err);
  }
  if (!key) {
    if (json_object_get(j, "must") || json_object_get(j, "should") ||
        json_object_get(j, "must_not") || json_object_get(j, "min_should")) {
      c->kind = HX__C_FILTER;
      return parse_filter(j, where, depth + 1, nested, &c->sub, err);
    }
    return hx_err_set(err, HX_EINVAL,
                      "%s: expected a field condition (key), is_empty, is_null, has_id, nested or "
                      "a filter (must, should, must_not, min_should)",
                      where);
  }
  if (!json_is_string(key) || !json_string_length(key))
    return hx_err_set(err, HX_EINVAL, "%s.key: expected a non-empty string", where);
  c->key = strdup(json_string_value(key));
  if (!c->key || hx__path_split(c->key, &c->path, &c->npath))
    return hx_err_set(err, HX_ENOMEM, "out of memory");
  const json_t *match = json_object_get(j, "match"), *range = json_object_get(j, "range"),
               *vc = json_object_get(j, "values_count");
  int nset = !!(match && !json_is_null(match)) + !!(range && !json_is_null(range)) +
             !!(vc && !json_is_null(vc));
  if (nset != 1)
    return hx_err_set(err, HX_EINVAL, "%s: expected exactly one of match, range or values_count",
                      where);
  if (match && !json_is_null(match)) {
    snprintf(w, sizeof w, "%s.match", where);
    if (!json_is_object(match)) return hx_err_set(err, HX_EINVAL, "%s: expected an object", w);
    const json_t *v;
    if ((v = json_object_get(match, "value"))) {
      if (!scalar_ok(v))
        return hx_err_set(err, HX_EINVAL, "%s.value: expected a string, integer or boolean", w);
      c->kind = HX__C_MATCH_VALUE;
      c->vals = json_pack("[O]", v);
    } else if ((v = json_object_get(match, "any")) || (v = json_object_get(match, "except"))) {
      int any = json_object_get(match, "any") != NULL;
      if (!json_is_array(v))
        return hx_err_set(err, HX_EINVAL, "%s.%s: expected an array", w, any ? "any" : "except");
      size_t i;
      const json_t *e;
      int kind = 0; /* 1 string, 2 integer: Qdrant lists are homogeneous */
      json_array_foreach(v, i, e) {
        int k = json_is_string(e) ? 1 : json_is_integer(e) ? 2 : 0;
        if (!k || (kind && k != kind))
          return hx_err_set(err, HX_EINVAL, "%s.%s[%zu]: expected %s", w, any ? "any" : "except", i,
                            kind == 2 ? "an integer" : kind == 1 ? "a string" : "a string or integer");
        kind = k;
      }
      c->kind = any ? HX__C_MATCH_ANY : HX__C_MATCH_EXCEPT;
      c->vals = json_deep_copy(v);
    } else if ((v = json_object_get(match, "text"))) {
      if (!json_is_string(v)) return hx_err_set(err, HX_EINVAL, "%s.text: expected a string", w);
      c->kind = HX__C_MATCH_TEXT;
      c->vals = json_pack("[O]", v);
    } else {
      return hx_err_set(err, HX_EINVAL, "%s: expected value, any, except or text", w);
    }
    if (!c->vals) return hx_err_set(err, HX_ENOMEM, "out of memory");
    return 0;
  }
  snprintf(w, sizeof w, "%s.%s", where, range && !json_is_null(range) ? "range" : "values_count");
  c->kind = range && !json_is_null(range) ? HX__C_RANGE : HX__C_VALUES_COUNT;
  rc = parse_range(c->kind == HX__C_RANGE ? range : vc, w, c, err);
  return rc;
}

static int parse_list(const json_t *j, const char *where, const char *name, int depth, int nested,
                      hx__cond **out, size_t *n, hx_err *err) {
  const json_t *a = json_object_get(j, name);
  char w[300];
  if (!a || json_is_null(a)) return 0;
  json_t *one = NULL;
  if (json_is_object(a)) { /* Qdrant accepts a single condition in place of a list */
    one = json_pack("[O]", a);
    a = one;
  }
  if (!json_is_array(a)) return hx_err_set(err, HX_EINVAL, "%s.%s: expected an array", where, name);
  size_t cnt = json_array_size(a);
  *out = calloc(cnt ? cnt : 1, sizeof **out);
  if (!*out) {
    json_decref(one);
    return hx_err_set(err, HX_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < cnt; i++) {
    snprintf(w, sizeof w, "%s.%s[%zu]", where, name, i);
    (*n)++;
    int rc = parse_cond(json_array_get(a, i), w, depth, nested, &(*out)[i], err);
    if (rc) {
      json_decref(one);
      return rc;
    }
  }
  json_decref(one);
  return 0;
}

static int parse_filter(const json_t *j, const char *where, int depth, int nested,
                        hx_vec_filter **out, hx_err *err) {
  int rc;
  *out = NULL;
  if (depth > 32) return hx_err_set(err, HX_EINVAL, "%s: nested too deeply", where);
  if (!json_is_object(j)) return hx_err_set(err, HX_EINVAL, "%s: expected an object", where);
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)j, k, v) {
    if (strcmp(k, "must") && strcmp(k, "should") && strcmp(k, "must_not") && strcmp(k, "min_should"))
      return hx_err_set(err, HX_EINVAL,
                        "%s: unknown field '%s' (expected must, should, must_not or min_should)",
                        where, k);
  }
  hx_vec_filter *f = calloc(1, sizeof *f);
  if (!f) return hx_err_set(err, HX_ENOMEM, "out of memory");
  if ((rc = parse_list(j, where, "must", depth, nested, &f->must, &f->nmust, err)) ||
      (rc = parse_list(j, where, "should", depth, nested, &f->should, &f->nshould, err)) ||
      (rc = parse_list(j, where, "must_not", depth, nested, &f->must_not, &f->nmust_not, err)))
    goto fail;
  const json_t *ms = json_object_get(j, "min_should");
  if (ms && !json_is_null(ms)) {
    char w[300];
    snprintf(w, sizeof w, "%s.min_should", where);
    if (!json_is_object(ms)) {
      rc = hx_err_set(err, HX_EINVAL, "%s: expected an object", w);
      goto fail;
    }
    const json_t *mc = json_object_get(ms, "min_count");
    if (!json_is_integer(mc) || json_integer_value(mc) < 0) {
      rc = hx_err_set(err, HX_EINVAL, "%s.min_count: expected a non-negative integer", w);
      goto fail;
    }
    f->min_count = (size_t)json_integer_value(mc);
    if (!json_is_array(json_object_get(ms, "conditions"))) {
      rc = hx_err_set(err, HX_EINVAL, "%s.conditions: expected an array", w);
      goto fail;
    }
    if ((rc = parse_list(ms, w, "conditions", depth, nested, &f->min_should, &f->nmin_should, err)))
      goto fail;
  }
  *out = f;
  return 0;
fail:
  hx_vec_filter_free(f);
  return rc;
}

int hx_vec_filter_parse(const json_t *j, hx_vec_filter **out, hx_err *err) {
  *out = NULL;
  return parse_filter(j, "filter", 0, 0, out, err);
}
