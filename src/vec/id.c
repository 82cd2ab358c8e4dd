/*
 * id.c - point ids: u64 or UUID, their text and JSON forms and their order.
 * The order (integers first, then UUIDs by bytes) is Qdrant's and is what
 * hx_vec_scroll pages by.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vec/vec.h"

hx_vec_id hx_vec_id_num(uint64_t n) {
  hx_vec_id id;
  memset(&id, 0, sizeof id);
  id.num = n;
  return id;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int hx_vec_id_parse(const char *s, hx_vec_id *out, hx_err *err) {
  memset(out, 0, sizeof *out);
  if (!s || !*s) return hx_err_set(err, HX_EINVAL, "point id: empty");
  size_t len = strlen(s);
  if (len == 36) {
    int k = 0;
    for (size_t i = 0; i < 36; i++) {
      if (i == 8 || i == 13 || i == 18 || i == 23) {
        if (s[i] != '-') goto bad;
        continue;
      }
      int h = hexval(s[i]), l = hexval(s[i + 1]);
      if (h < 0 || l < 0) goto bad;
      out->uuid[k++] = (unsigned char)(h << 4 | l);
      i++;
    }
    out->is_uuid = 1;
    return 0;
  }
  if (len <= 20) {
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
      if (s[i] < '0' || s[i] > '9') goto bad;
      uint64_t nv = v * 10 + (uint64_t)(s[i] - '0');
      if (nv / 10 != v) goto bad;
      v = nv;
    }
    out->num = v;
    return 0;
  }
bad:
  return hx_err_set(err, HX_EINVAL, "point id: '%.64s' is neither an unsigned integer nor a UUID", s);
}

int hx_vec_id_from_json(const json_t *j, hx_vec_id *out, hx_err *err) {
  if (json_is_integer(j)) {
    if (json_integer_value(j) < 0) return hx_err_set(err, HX_EINVAL, "point id: negative integer");
    *out = hx_vec_id_num((uint64_t)json_integer_value(j));
    return 0;
  }
  if (json_is_string(j)) {
    const char *s = json_string_value(j);
    if (strlen(s) != 36) return hx_err_set(err, HX_EINVAL, "point id: '%.64s' is not a UUID", s);
    return hx_vec_id_parse(s, out, err);
  }
  return hx_err_set(err, HX_EINVAL, "point id: expected an unsigned integer or a UUID string");
}

void hx_vec_id_format(const hx_vec_id *id, char buf[37]) {
  if (!id->is_uuid) {
    snprintf(buf, 37, "%llu", (unsigned long long)id->num);
    return;
  }
  static const char hx[] = "0123456789abcdef";
  int k = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) buf[k++] = '-';
    buf[k++] = hx[id->uuid[i] >> 4];
    buf[k++] = hx[id->uuid[i] & 15];
  }
  buf[k] = 0;
}

json_t *hx_vec_id_to_json(const hx_vec_id *id) {
  if (!id->is_uuid) return json_integer((json_int_t)id->num);
  char b[37];
  hx_vec_id_format(id, b);
  return json_string(b);
}

int hx_vec_id_cmp(const hx_vec_id *a, const hx_vec_id *b) {
  if (a->is_uuid != b->is_uuid) return a->is_uuid ? 1 : -1;
  if (!a->is_uuid) return a->num < b->num ? -1 : a->num > b->num;
  return memcmp(a->uuid, b->uuid, 16);
}
