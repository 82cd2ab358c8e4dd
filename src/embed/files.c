/* files.c - reading model files so that every failure names the file. */
#include "embed/embed_int.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hx__embed_path(char *buf, size_t cap, const char *dir, const char *name, hx_err *err) {
  int k = snprintf(buf, cap, "%s/%s", dir, name);
  if (k < 0 || (size_t)k >= cap)
    return hx_err_set(err, HX_EINVAL, "path too long: %s/%s", dir, name);
  return 0;
}

int hx__embed_read_file(const char *path, char **out, size_t *len, hx_err *err) {
  FILE *f = NULL;
  char *buf = NULL;
  int rc = 0;
  long sz;

  *out = NULL;
  f = fopen(path, "rb");
  if (!f) {
    rc = hx_err_set(err, errno == ENOENT ? HX_ENOENT : HX_EIO, "%s: %s", path, strerror(errno));
    goto out;
  }
  if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    rc = hx_err_set(err, HX_EIO, "%s: cannot determine size", path);
    goto out;
  }
  buf = malloc((size_t)sz + 1);
  if (!buf) {
    rc = hx_err_set(err, HX_ENOMEM, "%s: out of memory", path);
    goto out;
  }
  if (sz > 0 && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
    rc = hx_err_set(err, HX_EIO, "%s: short read", path);
    goto out;
  }
  buf[sz] = 0;
  *out = buf;
  buf = NULL;
  if (len) *len = (size_t)sz;
out:
  free(buf);
  if (f) fclose(f);
  return rc;
}

int hx__embed_json_load(const char *path, int optional, json_t **out, hx_err *err) {
  json_error_t je;
  FILE *f;

  *out = NULL;
  f = fopen(path, "rb");
  if (!f) {
    if (errno == ENOENT && optional) return 0;
    return hx_err_set(err, errno == ENOENT ? HX_ENOENT : HX_EIO, "%s: %s", path, strerror(errno));
  }
  *out = json_loadf(f, 0, &je);
  fclose(f);
  if (!*out)
    return hx_err_set(err, HX_ECORRUPT, "%s: invalid JSON at line %d: %s", path, je.line, je.text);
  return 0;
}

int hx__embed_threads(void) {
  const char *s = getenv("HEIMDEX_EMBED_THREADS");
  cpu_set_t set;
  int n;

  if (s && *s) {
    n = atoi(s);
    if (n > 0) return n > 256 ? 256 : n;
  }
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return 1;
}
