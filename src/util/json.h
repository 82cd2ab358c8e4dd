/*
 * json.h - JSON helpers on top of jansson.
 *
 * hx_json_stable() reproduces Python's
 *   json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
 * byte for byte for the values the contract hashes (job keys): keys sorted by
 * code point, no spaces, every non-ASCII character and DEL escaped as
 * lowercase \uXXXX (surrogate pairs above U+FFFF), control characters as
 * \n \r \t \b \f or \u00XX.
 */
#ifndef HX_UTIL_JSON_H
#define HX_UTIL_JSON_H

#include <jansson.h>

#include "util/buf.h"

int hx_json_stable(const json_t *v, hx_buf *out);   /* 0, HX_EINVAL on invalid UTF-8 */

/* Python-compatible compact dump (separators "," and ":", floats as Python's
 * repr: shortest round-trip digits). HX_JSON_SORT sorts keys, HX_JSON_ASCII
 * escapes non-ASCII (ensure_ascii=True); without it UTF-8 is written as is, as
 * Starlette's JSONResponse does. Appends to out. */
#define HX_JSON_SORT 1
#define HX_JSON_ASCII 2
int hx_json_dump(const json_t *v, int flags, hx_buf *out);

/* A float32 as a JSON number (9 significant digits, e.g. "123456789e-9",
 * trailing zeros dropped) that reads back (strtod, then to float) as exactly
 * v; not always the shortest such form. v must be finite. Writes at most
 * HX_JSON_F32_MAX bytes with the NUL, returns the length. About ten times
 * cheaper than printf("%.9g"): vectors are sent as thousands of these. */
#define HX_JSON_F32_MAX 24
size_t hx_json_f32(float v, char *out);

/* The fast path for a request that is mostly one array of numbers (a search
 * by vector: parsing 384 numbers into jansson values costs more than the
 * search). When text is a JSON object whose top-level member key (unescaped,
 * once) is an array of exactly n numbers, each a finite float, parses them into
 * out as jansson + (float) would and returns 0 with the value's span
 * [*at, *end); the caller hands jansson the rest of the document with the
 * span replaced (e.g. by "[]"), which validates everything else: replacing one
 * array by another keeps a document valid or invalid. -1 for anything else
 * (the caller then parses the whole text as usual and reports errors from it). */
int hx_json_f32_member(const char *text, size_t len, const char *key, float *out, size_t n, size_t *at,
                       size_t *end);

/* Serialise compactly (jansson, keys in insertion order). Caller frees. */
char *hx_json_compact(const json_t *v);

#endif
