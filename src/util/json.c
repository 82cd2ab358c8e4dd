/* json.c - Python-compatible stable JSON serialisation for hashing. */
#include "util/json.h"
#include "util/err.h"

#include <math.h>
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

static int put_string(const char *str, size_t n, int ascii, hx_buf *out) {
  const unsigned char *s = (const unsigned char *)str;
  int rc = hx_buf_add(out, "\"", 1);
  for (size_t i = 0; i < n && rc == 0;) {
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
    if (cp >= 0x20 && cp < 0x7f) {
      char ch = (char)cp;
      rc = hx_buf_add(out, &ch, 1);
    } else if (!ascii && cp >= 0x7f) {
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

int hx_json_dump(const json_t *v, int flags, hx_buf *out) {
  int ascii = flags & HX_JSON_ASCII;
  switch (json_typeof(v)) {
    case JSON_NULL: return hx_buf_adds(out, "null");
    case JSON_TRUE: return hx_buf_adds(out, "true");
    case JSON_FALSE: return hx_buf_adds(out, "false");
    case JSON_INTEGER: return hx_buf_addf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
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
    case JSON_OBJECT: {
      size_t n = json_object_size(v), k = 0;
      const char **keys = malloc((n ? n : 1) * sizeof *keys);
      if (!keys) return HX_ENOMEM;
      const char *key;
      json_t *val;
      json_object_foreach((json_t *)v, key, val) keys[k++] = key;
      if (flags & HX_JSON_SORT) qsort(keys, n, sizeof *keys, cmp_keys);
      int rc = hx_buf_add(out, "{", 1);
      for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i) rc = hx_buf_add(out, ",", 1);
        if (rc == 0) rc = put_string(keys[i], strlen(keys[i]), ascii, out);
        if (rc == 0) rc = hx_buf_add(out, ":", 1);
        if (rc == 0) rc = hx_json_dump(json_object_get(v, keys[i]), flags, out);
      }
      free(keys);
      return rc ? rc : hx_buf_add(out, "}", 1);
    }
  }
  return HX_EINVAL;
}

int hx_json_stable(const json_t *v, hx_buf *out) { return hx_json_dump(v, HX_JSON_SORT | HX_JSON_ASCII, out); }

char *hx_json_compact(const json_t *v) {
  return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}
