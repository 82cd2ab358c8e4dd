/* json.c - Python-compatible stable JSON serialisation for hashing. */
#include "util/json.h"
#include "util/err.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decode one UTF-8 sequence; returns its length or -1 if invalid. */
static int utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned char c = s[0];
  if (c < 0x80) { *cp = c; return 1; }
  int len;
  uint32_t v, min;
  if ((c & 0xe0) == 0xc0) { len = 2; v = c & 0x1f; min = 0x80; }
  else if ((c & 0xf0) == 0xe0) { len = 3; v = c & 0x0f; min = 0x800; }
  else if ((c & 0xf8) == 0xf0) { len = 4; v = c & 0x07; min = 0x10000; }
  else return -1;
  if ((size_t)len > n) return -1;
  for (int i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return -1;
    v = (v << 6) | (s[i] & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return -1;
  *cp = v;
  return len;
}

/* Bytes copied as they are in a JSON string: printable ASCII but '"' and '\\'. */
static int plain(unsigned char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }

static int put_string(const char *str, size_t n, int ascii, hx_buf *out) {
  const unsigned char *s = (const unsigned char *)str;
  int rc = hx_buf_add(out, "\"", 1);
  for (size_t i = 0; i < n && rc == 0;) {
    size_t run = i;
    while (run < n && plain(s[run])) run++;
    if (run > i) {
      rc = hx_buf_add(out, s + i, run - i);
      i = run;
      continue;
    }
    uint32_t cp;
    int len = utf8_next(s + i, n - i, &cp);
    if (len < 0) return HX_EINVAL;
    i += (size_t)len;
    switch (cp) {
      case '"': rc = hx_buf_adds(out, "\\\""); continue;
      case '\\': rc = hx_buf_adds(out, "\\\\"); continue;
      case '\n': rc = hx_buf_adds(out, "\\n"); continue;
      case '\r': rc = hx_buf_adds(out, "\\r"); continue;
      case '\t': rc = hx_buf_adds(out, "\\t"); continue;
      case '\b': rc = hx_buf_adds(out, "\\b"); continue;
      case '\f': rc = hx_buf_adds(out, "\\f"); continue;
    }
    if (!ascii && cp >= 0x7f) {
      rc = hx_buf_add(out, s + i - len, (size_t)len);
    } else if (cp < 0x10000) {
      rc = hx_buf_addf(out, "\\u%04x", cp);
    } else {
      uint32_t v = cp - 0x10000;
      rc = hx_buf_addf(out, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
    }
  }
  return rc ? rc : hx_buf_add(out, "\"", 1);
}

/* Python float repr: shortest round-trip digits, "1.0" for integral values. */
static int put_real(double d, hx_buf *out) {
  if (isnan(d)) return hx_buf_adds(out, "NaN");
  if (isinf(d)) return hx_buf_adds(out, d > 0 ? "Infinity" : "-Infinity");
  char tmp[40];
  /* a decimal of <= 15 significant digits survives %.15g (trailing zeros are
   * stripped), so starting at 15 still yields the shortest round-trip form */
  for (int p = 15; p <= 17; p++) {
    snprintf(tmp, sizeof tmp, "%.*g", p, d);
    if (strtod(tmp, NULL) == d) break;
  }
  if (!strpbrk(tmp, ".eEn")) strcat(tmp, ".0");
  return hx_buf_adds(out, tmp);
}

/* m = round(a * 10^(8-e)) has 9 digits. Double arithmetic is off by far less
 * than one unit of the 9th digit, so the decimal written is within 5.0001e-9
 * (relative) of v, while the nearest other float is at least 2^-24 ~ 5.96e-8
 * away: it reads back as v. */
size_t hx_json_f32(float v, char *out) {
  static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
                               1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  char *p = out;
  double a = v;
  if (signbit(v)) {
    *p++ = '-';
    a = -a;
  }
  if (a == 0) {   /* "-0" would read back as the integer 0: -0.0 keeps the sign */
    memcpy(p, p > out ? "0.0" : "0", p > out ? 4 : 2);
    return strlen(out);
  }
  int be;
  frexp(a, &be);   /* a in [2^(be-1), 2^be): log10(a) from the binary exponent, at most one too small */
  int e = (int)floor((be - 1) * 0.30102999566398120), used = e;
  uint64_t m = 0;
  for (int tries = 0; tries < 3; tries++) {
    int k = 8 - (used = e);   /* float32: e in [-45, 38], so |k| <= 53 */
    double s = a;
    for (; k > 22; k -= 22) s *= p10[22];
    for (; k < -22; k += 22) s /= p10[22];
    s = k >= 0 ? s * p10[k] : s / p10[-k];
    m = (uint64_t)(s + 0.5);
    if (m >= 1000000000u) e++;        /* log10 rounded up to the next power, or 9.999999995e.. */
    else if (m < 100000000u) e--;
    else break;
  }
  int exp = used - 8;   /* m * 10^exp is v, whichever try ended the loop */
  while (m % 10 == 0) {
    m /= 10;
    exp++;
  }
  char dig[24];
  int nd = 0;
  do dig[nd++] = (char)('0' + m % 10); while ((m /= 10) != 0);
  while (nd) *p++ = dig[--nd];
  if (exp) {
    *p++ = 'e';
    if (exp < 0) {
      *p++ = '-';
      exp = -exp;
    }
    if (exp >= 10) *p++ = (char)('0' + exp / 10);
    *p++ = (char)('0' + exp % 10);
  }
  *p = 0;
  return (size_t)(p - out);
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int put_member(const char *key, const json_t *val, int first, int flags, hx_buf *out) {
  int rc = first ? 0 : hx_buf_add(out, ",", 1);
  if (rc == 0) rc = put_string(key, strlen(key), flags & HX_JSON_ASCII, out);
  if (rc == 0) rc = hx_buf_add(out, ":", 1);
  return rc ? rc : hx_json_dump(val, flags, out);
}

/* Members in jansson's order (insertion), or sorted by key with HX_JSON_SORT. */
static int put_object(const json_t *v, int flags, hx_buf *out) {
  const char *key;
  json_t *val;
  int rc = hx_buf_add(out, "{", 1), first = 1;
  if (!(flags & HX_JSON_SORT)) {
    json_object_foreach((json_t *)v, key, val) {
      if (rc == 0) rc = put_member(key, val, first, flags, out);
      first = 0;
    }
    return rc ? rc : hx_buf_add(out, "}", 1);
  }
  size_t n = json_object_size(v), k = 0;
  const char **keys = malloc((n ? n : 1) * sizeof *keys);
  if (!keys) return HX_ENOMEM;
  json_object_foreach((json_t *)v, key, val) keys[k++] = key;
  qsort(keys, n, sizeof *keys, cmp_keys);
  for (size_t i = 0; rc == 0 && i < n; i++) rc = put_member(keys[i], json_object_get(v, keys[i]), i == 0, flags, out);
  free(keys);
  return rc ? rc : hx_buf_add(out, "}", 1);
}

int hx_json_dump(const json_t *v, int flags, hx_buf *out) {
  int ascii = flags & HX_JSON_ASCII;
  switch (json_typeof(v)) {
    case JSON_NULL: return hx_buf_adds(out, "null");
    case JSON_TRUE: return hx_buf_adds(out, "true");
    case JSON_FALSE: return hx_buf_adds(out, "false");
    case JSON_INTEGER: {
      char tmp[24];
      json_int_t i = json_integer_value(v);
      uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
      char *p = tmp + sizeof tmp;
      do *--p = (char)('0' + u % 10); while ((u /= 10) != 0);
      if (i < 0) *--p = '-';
      return hx_buf_add(out, p, (size_t)(tmp + sizeof tmp - p));
    }
    case JSON_REAL: return put_real(json_real_value(v), out);
    case JSON_STRING: return put_string(json_string_value(v), json_string_length(v), ascii, out);
    case JSON_ARRAY: {
      int rc = hx_buf_add(out, "[", 1);
      for (size_t i = 0; rc == 0 && i < json_array_size(v); i++) {
        if (i) rc = hx_buf_add(out, ",", 1);
        if (rc == 0) rc = hx_json_dump(json_array_get(v, i), flags, out);
      }
      return rc ? rc : hx_buf_add(out, "]", 1);
    }
    case JSON_OBJECT: return put_object(v, flags, out);
  }
  return HX_EINVAL;
}

int hx_json_stable(const json_t *v, hx_buf *out) { return hx_json_dump(v, HX_JSON_SORT | HX_JSON_ASCII, out); }

char *hx_json_compact(const json_t *v) {
  return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

/* ---- the fast path for one large array of numbers (hx_json_f32_member) ---- */

static const char *skip_ws(const char *p, const char *e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* p on an opening quote: just past the closing one, NULL if unterminated;
 * *esc is set when the string holds an escape. */
static const char *skip_string(const char *p, const char *e, int *esc) {
  for (p++; p < e; p++) {
    if (*p == '"') return p + 1;
    if (*p == '\\') {
      *esc = 1;
      p++;
    }
  }
  return NULL;
}

/* Just past the value at p, without validating it (jansson does, on the rest
 * of the document): strings, containers by bracket depth (brackets inside
 * strings ignored), scalars up to the next delimiter. NULL at the end. */
static const char *skip_value(const char *p, const char *e) {
  int depth = 0, esc = 0;
  while (p < e) {
    char c = *p;
    if (c == '"') {
      if (!(p = skip_string(p, e, &esc))) return NULL;
      if (depth == 0) return p;
    } else if (c == '[' || c == '{') {
      depth++;
      p++;
    } else if (c == ']' || c == '}') {
      if (depth == 0) return p;
      p++;
      if (--depth == 0) return p;
    } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
      return p;
    } else {
      p++;
    }
  }
  return NULL;
}

/* One JSON number at p (the grammar exactly: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?)
 * as jansson reads it: an integer token as a 64-bit integer, any other as
 * strtod's double, then to float. Clinger's fast path (at most 2^53 and
 * |power of ten| <= 22: one correctly rounded operation, so strtod's result)
 * covers the usual "0.1234567"; the rest goes to strtod. NULL when the token
 * is not a number, does not fit jansson's integer or double, or is not a
 * finite float: the caller's full parse then reports it. */
static const char *parse_number(const char *p, const char *e, float *out) {
  static const double P10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const char *s = p;
  int neg = 0, digits = 0, frac = 0, ex = 0, exneg = 0, real = 0;
  uint64_t m = 0;   /* the first 19 digits, exactly */
  if (p < e && *p == '-') {
    neg = 1;
    p++;
  }
  if (p >= e || *p < '0' || *p > '9') return NULL;
  if (*p == '0') {
    p++;
  } else {
    for (; p < e && *p >= '0' && *p <= '9'; p++)
      if (++digits <= 19) m = m * 10 + (uint64_t)(*p - '0');
  }
  if (p < e && *p == '.') {
    real = 1;
    p++;
    if (p >= e || *p < '0' || *p > '9') return NULL;
    for (; p < e && *p >= '0' && *p <= '9'; p++) {
      if (++digits <= 19) m = m * 10 + (uint64_t)(*p - '0');
      frac++;
    }
  }
  if (p < e && (*p == 'e' || *p == 'E')) {
    real = 1;
    p++;
    if (p < e && (*p == '+' || *p == '-')) exneg = *p++ == '-';
    if (p >= e || *p < '0' || *p > '9') return NULL;
    for (; p < e && *p >= '0' && *p <= '9'; p++)
      if (ex < 100000) ex = ex * 10 + (*p - '0');
  }
  double d;
  int e10 = (exneg ? -ex : ex) - frac;
  if (!real) {
    /* jansson: strtoll, an error past its range; then (double) */
    if (digits > 19 || m > (uint64_t)INT64_MAX + (uint64_t)neg) return NULL;
    int64_t v = neg ? (m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m) : (int64_t)m;
    d = (double)v;
  } else if (digits <= 19 && m <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
    d = e10 < 0 ? (double)m / P10[-e10] : (double)m * P10[e10];
    if (neg) d = -d;
  } else {
    char tmp[64];
    if (p - s >= (ptrdiff_t)sizeof tmp) return NULL;
    memcpy(tmp, s, (size_t)(p - s));
    tmp[p - s] = '\0';
    d = strtod(tmp, NULL);
    if (d == HUGE_VAL || d == -HUGE_VAL) return NULL;   /* jansson: real number overflow */
  }
  float f = (float)d;
  if (!isfinite(f)) return NULL;
  *out = f;
  return p;
}

/* An array of exactly n numbers at p: just past it, or NULL. */
static const char *parse_f32_array(const char *p, const char *e, float *out, size_t n) {
  if (p >= e || *p != '[') return NULL;
  size_t i = 0;
  p = skip_ws(p + 1, e);
  if (p < e && *p == ']') return n == 0 ? p + 1 : NULL;
  for (;;) {
    if (i == n || !(p = parse_number(p, e, &out[i++]))) return NULL;
    p = skip_ws(p, e);
    if (p >= e) return NULL;
    if (*p == ']') return i == n ? p + 1 : NULL;
    if (*p != ',') return NULL;
    p = skip_ws(p + 1, e);
  }
}

int hx_json_f32_member(const char *text, size_t len, const char *key, float *out, size_t n, size_t *at,
                       size_t *end) {
  const char *e = text + len, *p = skip_ws(text, e), *vs = NULL, *ve = NULL;
  size_t klen = strlen(key);
  if (p >= e || *p != '{') return -1;
  p = skip_ws(p + 1, e);
  for (;;) {
    int esc = 0;
    if (p >= e || *p != '"') return -1;
    const char *ks = p + 1, *q = skip_string(p, e, &esc);
    /* a key with an escape might decode to key: leave such documents to jansson */
    if (!q || esc) return -1;
    p = skip_ws(q, e);
    if (p >= e || *p != ':') return -1;
    p = skip_ws(p + 1, e);
    if ((size_t)(q - 1 - ks) == klen && memcmp(ks, key, klen) == 0) {
      if (vs) return -1;   /* twice: jansson keeps the last, leave it to jansson */
      vs = p;
      if (!(p = ve = parse_f32_array(p, e, out, n))) return -1;
    } else if (!(p = skip_value(p, e))) {
      return -1;
    }
    p = skip_ws(p, e);
    if (p < e && *p == ',') {
      p = skip_ws(p + 1, e);
      continue;
    }
    if (p < e && *p == '}') break;
    return -1;
  }
  if (!vs) return -1;
  *at = (size_t)(vs - text);
  *end = (size_t)(ve - text);
  return 0;
}
