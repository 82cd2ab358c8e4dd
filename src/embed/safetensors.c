/*
 * safetensors.c - memory-maps a .safetensors file and validates its header
 * (layout in safetensors.h) before anyone touches a tensor.
 */
#include "embed/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define HX_ST_MAX_HEADER (100u << 20)

struct hx_safetensors {
  char *path;            /* owned */
  void *map;             /* owned mapping of the whole file */
  size_t size;
  json_t *header;        /* owned; tensor names point into it */
  hx_st_tensor *t;       /* owned, n entries */
  size_t n;
};

static const struct { const char *name; int dtype; size_t size; } dtypes[] = {
  {"F32", HX_ST_F32, 4}, {"F16", HX_ST_F16, 2}, {"BF16", HX_ST_BF16, 2},
  {"F64", HX_ST_OTHER, 8}, {"I64", HX_ST_OTHER, 8}, {"I32", HX_ST_OTHER, 4},
  {"I16", HX_ST_OTHER, 2}, {"I8", HX_ST_OTHER, 1}, {"U8", HX_ST_OTHER, 1},
  {"BOOL", HX_ST_OTHER, 1}, {"U16", HX_ST_OTHER, 2}, {"U32", HX_ST_OTHER, 4},
  {"U64", HX_ST_OTHER, 8}, {"F8_E4M3", HX_ST_OTHER, 1}, {"F8_E5M2", HX_ST_OTHER, 1},
};

static int cmp_off(const void *a, const void *b) {
  const hx_st_tensor *x = a, *y = b;
  uintptr_t p = (uintptr_t)x->data, q = (uintptr_t)y->data;
  return p < q ? -1 : p > q;
}

static int parse_entry(hx_safetensors *st, const char *name, json_t *v, const uint8_t *data,
                       size_t dlen, hx_st_tensor *t, hx_err *err) {
  const char *dt = json_string_value(json_object_get(v, "dtype"));
  json_t *shape = json_object_get(v, "shape"), *offs = json_object_get(v, "data_offsets");
  size_t esize = 0, i;
  json_t *d;

  memset(t, 0, sizeof *t);
  t->name = name;
  if (!dt)
    return hx_err_set(err, HX_ECORRUPT, "%s: tensor '%s' has no dtype", st->path, name);
  for (i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
    if (strcmp(dt, dtypes[i].name) == 0) {
      t->dtype = dtypes[i].dtype;
      esize = dtypes[i].size;
    }
  if (!esize)
    return hx_err_set(err, HX_ECORRUPT, "%s: tensor '%s' has unknown dtype '%s'", st->path, name, dt);
  if (!json_is_array(shape) || json_array_size(shape) > 8)
    return hx_err_set(err, HX_ECORRUPT, "%s: tensor '%s' has a bad shape", st->path, name);
  t->ndim = (int)json_array_size(shape);
  t->nelem = 1;
  json_array_foreach(shape, i, d) {
    json_int_t x = json_integer_value(d);
    if (!json_is_integer(d) || x < 0 || x > ((json_int_t)1 << 40) ||
        (x > 0 && t->nelem > (((int64_t)1 << 40) / x)))
      return hx_err_set(err, HX_ECORRUPT, "%s: tensor '%s' has a bad shape", st->path, name);
    t->shape[i] = x;
    t->nelem *= x;
  }
  if (!json_is_array(offs) || json_array_size(offs) != 2 ||
      !json_is_integer(json_array_get(offs, 0)) || !json_is_integer(json_array_get(offs, 1)))
    return hx_err_set(err, HX_ECORRUPT, "%s: tensor '%s' has bad data_offsets", st->path, name);
  json_int_t b = json_integer_value(json_array_get(offs, 0));
  json_int_t e = json_integer_value(json_array_get(offs, 1));
  if (b < 0 || e < b || (uint64_t)e > dlen)
    return hx_err_set(err, HX_ECORRUPT, "%s: tensor '%s' data_offsets [%lld, %lld] outside the %zu data bytes",
                      st->path, name, (long long)b, (long long)e, dlen);
  t->nbytes = (size_t)(e - b);
  if ((uint64_t)t->nbytes != (uint64_t)t->nelem * esize)
    return hx_err_set(err, HX_ECORRUPT, "%s: tensor '%s' has %zu bytes, shape needs %lld",
                      st->path, name, t->nbytes, (long long)(t->nelem * (int64_t)esize));
  t->data = data + b;
  return 0;
}

int hx_safetensors_open(const char *path, hx_safetensors **out, hx_err *err) {
  hx_safetensors *st = NULL;
  struct stat sb;
  json_error_t je;
  uint64_t hlen = 0;
  int fd = -1, rc = 0;
  const char *key;
  json_t *v;

  *out = NULL;
  st = calloc(1, sizeof *st);
  if (!st || !(st->path = strdup(path))) {
    rc = hx_err_set(err, HX_ENOMEM, "%s: out of memory", path);
    goto out;
  }
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    rc = hx_err_set(err, errno == ENOENT ? HX_ENOENT : HX_EIO, "%s: %s", path, strerror(errno));
    goto out;
  }
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    rc = hx_err_set(err, HX_EIO, "%s: not a regular file", path);
    goto out;
  }
  if (sb.st_size < 8) {
    rc = hx_err_set(err, HX_ECORRUPT, "%s: too short for a safetensors file (%lld bytes)", path,
                    (long long)sb.st_size);
    goto out;
  }
  st->size = (size_t)sb.st_size;
  st->map = mmap(NULL, st->size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (st->map == MAP_FAILED) {
    st->map = NULL;
    rc = hx_err_set(err, HX_EIO, "%s: mmap: %s", path, strerror(errno));
    goto out;
  }
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | ((const uint8_t *)st->map)[i];
  if (hlen < 2 || hlen > HX_ST_MAX_HEADER || hlen > st->size - 8) {
    rc = hx_err_set(err, HX_ECORRUPT, "%s: header length %llu does not fit the %zu-byte file", path,
                    (unsigned long long)hlen, st->size);
    goto out;
  }
  st->header = json_loadb((const char *)st->map + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
  if (!st->header || !json_is_object(st->header)) {
    rc = hx_err_set(err, HX_ECORRUPT, "%s: header is not a JSON object (%s)", path,
                    st->header ? "not an object" : je.text);
    goto out;
  }
  st->t = calloc(json_object_size(st->header) + 1, sizeof *st->t);
  if (!st->t) {
    rc = hx_err_set(err, HX_ENOMEM, "%s: out of memory", path);
    goto out;
  }
  const uint8_t *data = (const uint8_t *)st->map + 8 + hlen;
  size_t dlen = st->size - 8 - (size_t)hlen;
  json_object_foreach(st->header, key, v) {
    if (strcmp(key, "__metadata__") == 0) continue;
    if (!json_is_object(v)) {
      rc = hx_err_set(err, HX_ECORRUPT, "%s: entry '%s' is not an object", path, key);
      goto out;
    }
    if ((rc = parse_entry(st, key, v, data, dlen, &st->t[st->n], err))) goto out;
    st->n++;
  }
  /* overlap check on a sorted copy */
  {
    hx_st_tensor *s = malloc((st->n + 1) * sizeof *s);
    if (!s) {
      rc = hx_err_set(err, HX_ENOMEM, "%s: out of memory", path);
      goto out;
    }
    memcpy(s, st->t, st->n * sizeof *s);
    qsort(s, st->n, sizeof *s, cmp_off);
    for (size_t i = 1; i < st->n; i++)
      if ((const uint8_t *)s[i - 1].data + s[i - 1].nbytes > (const uint8_t *)s[i].data) {
        rc = hx_err_set(err, HX_ECORRUPT, "%s: tensors '%s' and '%s' overlap", path, s[i - 1].name,
                        s[i].name);
        break;
      }
    free(s);
    if (rc) goto out;
  }
  *out = st;
  st = NULL;
out:
  if (fd >= 0) close(fd);
  hx_safetensors_close(st);
  return rc;
}

void hx_safetensors_close(hx_safetensors *st) {
  if (!st) return;
  if (st->map) munmap(st->map, st->size);
  json_decref(st->header);
  free(st->t);
  free(st->path);
  free(st);
}

size_t hx_safetensors_count(const hx_safetensors *st) { return st->n; }
const hx_st_tensor *hx_safetensors_at(const hx_safetensors *st, size_t i) {
  return i < st->n ? &st->t[i] : NULL;
}
const char *hx_safetensors_path(const hx_safetensors *st) { return st->path; }

const hx_st_tensor *hx_safetensors_find(const hx_safetensors *st, const char *name) {
  for (size_t i = 0; i < st->n; i++)
    if (strcmp(st->t[i].name, name) == 0) return &st->t[i];
  return NULL;
}

float hx_f16_to_f32(uint16_t h) {
  uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
  float f;
  if (e == 0) {
    if (m == 0) {
      u = s;
    } else { /* subnormal: renormalise */
      e = 127 - 15 + 1;
      while (!(m & 0x400)) { m <<= 1; e--; }
      u = s | (e << 23) | ((m & 0x3ff) << 13);
    }
  } else if (e == 31) {
    u = s | 0x7f800000u | (m << 13);
  } else {
    u = s | ((e + 127 - 15) << 23) | (m << 13);
  }
  memcpy(&f, &u, 4);
  return f;
}

float hx_bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

int hx_safetensors_to_f32(const hx_st_tensor *t, float *dst, hx_err *err) {
  const uint8_t *p = t->data;
  switch (t->dtype) {
  case HX_ST_F32:
    memcpy(dst, p, t->nbytes);
    return 0;
  case HX_ST_F16:
    for (int64_t i = 0; i < t->nelem; i++) dst[i] = hx_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
    return 0;
  case HX_ST_BF16:
    for (int64_t i = 0; i < t->nelem; i++) dst[i] = hx_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
    return 0;
  default:
    return hx_err_set(err, HX_EUNSUPP, "tensor '%s' is not F32, F16 or BF16", t->name);
  }
}
