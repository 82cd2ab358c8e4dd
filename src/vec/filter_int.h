/*
 * filter_int.h - compiled form of a Qdrant filter, shared by the evaluator
 * (filter.c) and the planner that estimates cardinality from payload indexes
 * (pindex.c). Private to src/vec.
 *
 * A filter is four lists of conditions: must (all), should (at least one, if
 * any), must_not (none), min_should (at least min_count). A condition is a
 * field test on a dotted key path, is_empty/is_null, has_id, a nested filter,
 * or a nested-object filter. Keys are split into path segments at parse time.
 */
#ifndef HX_VEC_FILTER_INT_H
#define HX_VEC_FILTER_INT_H

#include "vec/vec.h"

typedef enum {
  HX__C_MATCH_VALUE = 1, HX__C_MATCH_ANY, HX__C_MATCH_EXCEPT, HX__C_MATCH_TEXT, HX__C_RANGE,
  HX__C_VALUES_COUNT, HX__C_IS_EMPTY, HX__C_IS_NULL, HX__C_HAS_ID, HX__C_FILTER, HX__C_NESTED
} hx__cond_kind;

typedef struct hx__cond {
  hx__cond_kind kind;
  char *key;          /* as written ("a.b[].c") */
  char **path;        /* segments, "[]" suffix removed */
  size_t npath;
  json_t *vals;       /* array of values (value: one element); owned */
  int has_gt, has_gte, has_lt, has_lte;
  double gt, gte, lt, lte;
  hx_vec_id *ids;     /* has_id; owned */
  size_t nids;
  hx_vec_filter *sub; /* filter / nested; owned */
} hx__cond;

struct hx_vec_filter {
  hx__cond *must, *should, *must_not, *min_should;
  size_t nmust, nshould, nmust_not, nmin_should;
  size_t min_count;
};

/* Values at path in payload (arrays flattened) into out[cap]; returns how many
 * (may exceed cap: only cap stored). A present null is reported via *has_null. */
size_t hx__payload_values(const json_t *payload, char *const *path, size_t npath,
                          const json_t **out, size_t cap, int *has_null);
/* Canonical index key of a scalar value for exact-match indexes ("s:..", "i:..",
 * "b:0/1"); returns length written or 0 if the value is not indexable. */
size_t hx__value_key(const json_t *v, char *buf, size_t cap);
int hx__cond_match(const hx__cond *c, const hx_vec_id *id, const json_t *payload);
/* Splits "a.b[].c" into segments; returns 0 or -1. */
int hx__path_split(const char *key, char ***out, size_t *n);
void hx__path_free(char **p, size_t n);

#endif
