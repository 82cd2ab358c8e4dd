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

/* Serialise compactly (jansson, keys in insertion order). Caller frees. */
char *hx_json_compact(const json_t *v);

#endif
