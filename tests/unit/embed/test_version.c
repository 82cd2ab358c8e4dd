/* test_version.c - a model's version is a hash of its files' bytes
 * (src/embed/version.c): the same bytes give the same version wherever they
 * live, any changed byte changes it, the weights' hash is cached in a sidecar
 * keyed by size + mtime, and GET /models (hx_model_describe) and an opened
 * embedder report the same version. The Python integration test recomputes
 * the version of the fixture with hashlib. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <fcntl.h>

#include <cmocka.h>

#include "embed/embed.h"
#include "embed/embed_int.h"
#include "unit/embed/fixture.h"
#include "util/hash.h"

#define BIG (2u << 20) /* over the 1 MiB caching threshold */

static void sha_hex(const void *p, size_t n, char hex[65]) {
  uint8_t d[32];
  hx_sha256(p, n, d);
  hx_hex(d, 32, hex);
}

/* The documented formula for a directory holding exactly config.json and
 * model.safetensors whose hashes are given. */
static void expect_version(const char *cfg_hex, const char *w_hex, char out[13]) {
  char list[300], hex[65];
  snprintf(list, sizeof list, "config.json\n%s\nmodel.safetensors\n%s\n", cfg_hex, w_hex);
  sha_hex(list, strlen(list), hex);
  memcpy(out, hex, 12);
  out[12] = 0;
}

static void make_dir(const char *dir, const char *cfg, const unsigned char *w) {
  char p[600];
  mkdir(dir, 0755);
  snprintf(p, sizeof p, "%s/config.json", dir);
  fix_write(p, cfg, strlen(cfg));
  snprintf(p, sizeof p, "%s/model.safetensors", dir);
  fix_write(p, w, BIG);
}

static void test_content_hash_and_sidecar(void **s) {
  (void)s;
  char models[64] = "/tmp/hx-embed-test-XXXXXX", a[128], b[128], p[400], side[600], v[13], v2[13], want[13];
  char cfg_hex[65], w_hex[65];
  const char *cfg = "{\"hidden_size\": 4}";
  hx_err err = {0};
  assert_non_null(mkdtemp(models));
  unsigned char *w = malloc(BIG);
  for (size_t i = 0; i < BIG; i++) w[i] = (unsigned char)(i * 2654435761u >> 13);
  sha_hex(cfg, strlen(cfg), cfg_hex);
  sha_hex(w, BIG, w_hex);

  snprintf(a, sizeof a, "%s/a", models);
  make_dir(a, cfg, w);
  assert_int_equal(hx__embed_model_version(a, v, &err), 0);
  expect_version(cfg_hex, w_hex, want);
  assert_string_equal(v, want);
  /* the sidecar records size, mtime and the weights' hash */
  struct stat sb;
  snprintf(p, sizeof p, "%s/model.safetensors", a);
  snprintf(side, sizeof side, "%s.sha256", p);
  assert_int_equal(stat(p, &sb), 0);
  size_t n;
  char *line = fix_read(side, &n), expect[200];
  snprintf(expect, sizeof expect, "%lld %lld.%09ld %s\n", (long long)sb.st_size, (long long)sb.st_mtim.tv_sec,
           sb.st_mtim.tv_nsec, w_hex);
  assert_string_equal(line, expect);
  free(line);

  /* same bytes under another name: same version */
  snprintf(b, sizeof b, "%s/b", models);
  make_dir(b, cfg, w);
  assert_int_equal(hx__embed_model_version(b, v2, &err), 0);
  assert_string_equal(v2, v);

  /* a sidecar matching size + mtime is trusted (that is the cache) ... */
  const char *fake = "0000000000000000000000000000000000000000000000000000000000000000";
  snprintf(p, sizeof p, "%s/c", models);
  make_dir(p, cfg, w);
  snprintf(p, sizeof p, "%s/c/model.safetensors", models);
  struct timespec ts[2] = {{1700000000, 123456789}, {1700000000, 123456789}};
  assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
  snprintf(side, sizeof side, "%s.sha256", p);
  snprintf(expect, sizeof expect, "%u 1700000000.123456789 %s\n", BIG, fake);
  fix_write(side, expect, strlen(expect));
  snprintf(p, sizeof p, "%s/c", models);
  assert_int_equal(hx__embed_model_version(p, v2, &err), 0);
  expect_version(cfg_hex, fake, want);
  assert_string_equal(v2, want);
  /* ... and ignored once the mtime moves: the file is hashed again */
  snprintf(p, sizeof p, "%s/c/model.safetensors", models);
  ts[0].tv_nsec = ts[1].tv_nsec = 5;
  assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
  snprintf(p, sizeof p, "%s/c", models);
  assert_int_equal(hx__embed_model_version(p, v2, &err), 0);
  assert_string_equal(v2, v);

  /* one changed weight byte (same size, new mtime) or config byte: new version */
  w[BIG / 2] ^= 1;
  snprintf(p, sizeof p, "%s/b/model.safetensors", models);
  fix_write(p, w, BIG);
  ts[0].tv_sec = ts[1].tv_sec = 1600000000;
  assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
  assert_int_equal(hx__embed_model_version(b, v2, &err), 0);
  sha_hex(w, BIG, w_hex);
  expect_version(cfg_hex, w_hex, want);
  assert_string_equal(v2, want);
  assert_string_not_equal(v2, v);
  snprintf(p, sizeof p, "%s/a/config.json", models);
  fix_write(p, "{\"hidden_size\": 5}", 18);
  assert_int_equal(hx__embed_model_version(a, v2, &err), 0);
  assert_string_not_equal(v2, v);
  free(w);
  fix_rm_tree(models);
}

static void test_reported_versions(void **s) {
  (void)s;
  char models[64], dir[128], v[13];
  hx_model_info info;
  hx_embedder *e = NULL;
  hx_err err = {0};
  fix_scratch(FIX_F32, "tiny-bert", models, sizeof models, dir, sizeof dir);
  assert_int_equal(hx__embed_model_version(dir, v, &err), 0);
  assert_int_equal(strlen(v), 12);
  assert_int_equal(strspn(v, "0123456789abcdef"), 12);
  assert_int_equal(hx_model_describe(models, "tiny-bert", 32, &info, &err), 0);
  assert_string_equal(info.version, v);
  assert_int_equal(hx_embedder_open(models, "tiny-bert", 32, &e, &err), 0);
  assert_string_equal(hx_embedder_info(e)->version, v);
  hx_embedder_free(e);
  /* the pooling config is part of the model: changing it changes the version */
  char p[300];
  snprintf(p, sizeof p, "%s/1_Pooling/config.json", dir);
  size_t n;
  char *cfg = fix_read(p, &n);
  cfg = realloc(cfg, n + 2);
  cfg[n] = ' '; /* still the same JSON, other bytes */
  fix_write(p, cfg, n + 1);
  free(cfg);
  assert_int_equal(hx_model_describe(models, "tiny-bert", 32, &info, &err), 0);
  assert_string_not_equal(info.version, v);
  assert_int_equal(hx_model_describe(models, "lexical", 32, &info, &err), 0);
  assert_string_equal(info.version, "v1");
  fix_rm_tree(models);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_content_hash_and_sidecar),
    cmocka_unit_test(test_reported_versions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
