/*
 * version.c - a BERT model's version: a hash of the bytes it is made of.
 *
 * Why: a model name says which model, not which weights. Two directories
 * called "minilm-l6-v2" with different weights must not look the same in
 * GET /models, job results and point payloads. The version is the first 12
 * hex digits of
 *
 *   SHA-256( for each model file F that exists, in this order:
 *              F "\n" hex(SHA-256(bytes of F)) "\n" )
 *
 * over config.json, model.safetensors, vocab.txt, tokenizer.json,
 * tokenizer_config.json, modules.json, sentence_bert_config.json and, for
 * each module path P listed in modules.json, P/config.json and
 * P/model.safetensors (pooling, dense layers). Names are relative to the
 * model directory. Only bytes count: sizes, mtimes and the directory's
 * name do not.
 *
 * Every file's hash is kept in this process, keyed by path, size and mtime
 * (nanoseconds), so the per-request model checks cost a stat per file.
 * Files over 1 MiB (the weights) are also cached across restarts, so that
 * start-up stays fast:
 *   - on disk in a sidecar "<file>.sha256" next to the file, one line of
 *     text: "<size> <mtime_sec>.<mtime_nsec 9 digits> <64 hex>\n". It is
 *     used only when size and mtime still match the file; it is written
 *     atomically (temporary file + rename) and not at all when the
 *     directory is read-only. A sidecar is a cache: deleting it is harmless.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embed/embed_int.h"
#include "util/hash.h"

#define BIG_FILE (1u << 20)
#define MEMO 256

typedef struct memo {
  char path[512];
  long long size, sec, nsec;
  char hex[65];
} memo;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static memo g_memo[MEMO];
static int g_next;

static int memo_get(const char *path, const struct stat *sb, char hex[65]) {
  int hit = 0;
  pthread_mutex_lock(&g_mu);
  for (int i = 0; i < MEMO && !hit; i++) {
    const memo *m = &g_memo[i];
    if (m->hex[0] && m->size == (long long)sb->st_size && m->sec == (long long)sb->st_mtim.tv_sec &&
        m->nsec == (long long)sb->st_mtim.tv_nsec && strcmp(m->path, path) == 0) {
      memcpy(hex, m->hex, 65);
      hit = 1;
    }
  }
  pthread_mutex_unlock(&g_mu);
  return hit;
}

static void memo_put(const char *path, const struct stat *sb, const char hex[65]) {
  if (strlen(path) >= sizeof g_memo[0].path) return;
  pthread_mutex_lock(&g_mu);
  memo *m = &g_memo[g_next];
  g_next = (g_next + 1) % MEMO;
  snprintf(m->path, sizeof m->path, "%s", path);
  m->size = (long long)sb->st_size;
  m->sec = (long long)sb->st_mtim.tv_sec;
  m->nsec = (long long)sb->st_mtim.tv_nsec;
  memcpy(m->hex, hex, 65);
  pthread_mutex_unlock(&g_mu);
}

static int is_hex64(const char *s) {
  for (int i = 0; i < 64; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return s[64] == 0;
}

/* The sidecar's hash when it matches the file's size and mtime. */
static int sidecar_get(const char *side, const struct stat *sb, char hex[65]) {
  char line[160], h[80];
  long long size, sec, nsec;
  FILE *f = fopen(side, "r");
  int ok = 0;
  if (!f) return 0;
  if (fgets(line, sizeof line, f) && sscanf(line, "%lld %lld.%9lld %70s", &size, &sec, &nsec, h) == 4 &&
      strlen(h) == 64 && is_hex64(h) && size == (long long)sb->st_size &&
      sec == (long long)sb->st_mtim.tv_sec && nsec == (long long)sb->st_mtim.tv_nsec) {
    memcpy(hex, h, 65);
    ok = 1;
  }
  fclose(f);
  return ok;
}

static void sidecar_put(const char *side, const struct stat *sb, const char hex[65]) {
  char tmp[4200];
  if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", side, (long)getpid()) >= (int)sizeof tmp) return;
  FILE *f = fopen(tmp, "w");
  if (!f) return; /* read-only directory: the in-process cache still holds it */
  int ok = fprintf(f, "%lld %lld.%09lld %s\n", (long long)sb->st_size, (long long)sb->st_mtim.tv_sec,
                   (long long)sb->st_mtim.tv_nsec, hex) > 0;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, side) != 0) unlink(tmp);
}

/* hex(SHA-256(file bytes)); *present = 0 (and 0 returned) when it does not exist. */
static int file_sha256(const char *path, int *present, char hex[65], hx_err *err) {
  struct stat sb;
  char side[4200];
  uint8_t d[32];
  int fd = -1, rc = 0;
  void *p = MAP_FAILED;

  *present = 0;
  if (stat(path, &sb) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return 0;
    return hx_err_set(err, HX_EIO, "%s: %s", path, strerror(errno));
  }
  if (!S_ISREG(sb.st_mode)) return 0;
  *present = 1;
  const int big = (size_t)sb.st_size > BIG_FILE;
  if (memo_get(path, &sb, hex)) return 0;
  if (big && snprintf(side, sizeof side, "%s.sha256", path) < (int)sizeof side && sidecar_get(side, &sb, hex)) {
    memo_put(path, &sb, hex);
    return 0;
  }
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return hx_err_set(err, HX_EIO, "%s: %s", path, strerror(errno));
  if (sb.st_size > 0) {
    p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      rc = hx_err_set(err, HX_EIO, "%s: cannot map: %s", path, strerror(errno));
      goto out;
    }
  }
  hx_sha256(p == MAP_FAILED ? "" : p, (size_t)sb.st_size, d);
  hx_hex(d, 32, hex);
  memo_put(path, &sb, hex);
  if (big) sidecar_put(side, &sb, hex);
out:
  if (p != MAP_FAILED) munmap(p, (size_t)sb.st_size);
  close(fd);
  return rc;
}

/* Add "name\nhex\n" for dir/name to the list when the file exists. */
static int add_file(const char *dir, const char *name, char **list, size_t *len, size_t *cap, hx_err *err) {
  char path[4096], hex[65];
  int present, rc;
  if ((rc = hx__embed_path(path, sizeof path, dir, name, err)) ||
      (rc = file_sha256(path, &present, hex, err)) || !present)
    return rc;
  size_t need = strlen(name) + 66;
  if (*len + need + 1 > *cap) {
    size_t nc = (*cap + need) * 2;
    char *n = realloc(*list, nc);
    if (!n) return hx_err_set(err, HX_ENOMEM, "out of memory");
    *list = n;
    *cap = nc;
  }
  *len += (size_t)sprintf(*list + *len, "%s\n%s\n", name, hex);
  return 0;
}

int hx__embed_model_version(const char *dir, char out[13], hx_err *err) {
  static const char *const top[] = {"config.json", "model.safetensors", "vocab.txt", "tokenizer.json",
                                    "tokenizer_config.json", "modules.json", "sentence_bert_config.json"};
  char path[4096], sub[4096];
  char *list = NULL;
  size_t len = 0, cap = 0, i;
  json_t *mods = NULL, *m;
  int rc = 0;

  for (i = 0; i < sizeof top / sizeof top[0] && !rc; i++) rc = add_file(dir, top[i], &list, &len, &cap, err);
  if (rc) goto out;
  /* a modules.json that does not parse is reported by the loader; here it
   * only contributes its bytes (above) */
  if (hx__embed_path(path, sizeof path, dir, "modules.json", err) == 0 &&
      hx__embed_json_load(path, 1, &mods, NULL) == 0 && json_is_array(mods)) {
    json_array_foreach(mods, i, m) {
      const char *p = json_string_value(json_object_get(m, "path"));
      if (!p || !*p || p[0] == '/' || strstr(p, "..")) continue;
      if ((rc = hx__embed_path(sub, sizeof sub, p, "config.json", err)) ||
          (rc = add_file(dir, sub, &list, &len, &cap, err)) ||
          (rc = hx__embed_path(sub, sizeof sub, p, "model.safetensors", err)) ||
          (rc = add_file(dir, sub, &list, &len, &cap, err)))
        goto out;
    }
  }
  uint8_t d[32];
  char hex[65];
  hx_sha256(list ? list : "", len, d);
  hx_hex(d, 32, hex);
  memcpy(out, hex, 12);
  out[12] = 0;
out:
  json_decref(mods);
  free(list);
  return rc;
}
