/* test_models.c - the per-request model check (src/worker/models.c) is
 * cached by directory identity: a repeated check describes nothing; a changed
 * models directory or model directory (entries renamed into place, a touch, a
 * removed model) is seen at the next check; an answer read while a directory
 * was younger than the racy window is not kept; a file rewritten in place is
 * seen once its directory is touched (the documented limit); concurrent
 * checks beside a directory being touched are safe (TSan runs this file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "embed/embed.h"
#include "unit/embed/fixture.h"
#include "worker/models.h"

/* mtime of path = now - ago seconds (ago > the racy window: settled). */
static void age(const char *path, int ago) {
  struct timespec ts[2];
  clock_gettime(CLOCK_REALTIME, &ts[0]);
  ts[0].tv_sec -= ago;
  ts[1] = ts[0];
  assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

typedef struct env {
  char models[64], dir[128];
  hx_config cfg;
  hx_models *m;
} env;

static void env_open(env *e) {
  hx_err err = {0};
  memset(e, 0, sizeof *e);
  fix_scratch(FIX_F32, "tiny-bert", e->models, sizeof e->models, e->dir, sizeof e->dir);
  age(e->dir, 100);
  age(e->models, 100);
  snprintf(e->cfg.models_dir, sizeof e->cfg.models_dir, "%s", e->models);
  snprintf(e->cfg.embedding_model, sizeof e->cfg.embedding_model, "tiny-bert");
  e->cfg.vector_size = 32;
  e->cfg.workers = 1;
  assert_int_equal(hx_models_new(&e->cfg, &e->m, &err), 0);
}

static void env_close(env *e) {
  hx_models_free(e->m);
  fix_rm_tree(e->models);
}

static void check_version(env *e, const char *name, char out[32]) {
  hx_model_info info;
  hx_err err = {0};
  assert_int_equal(hx_models_check(e->m, name, &info, &err), 0);
  snprintf(out, 32, "%s", info.version);
}

static void rewrite_config(const char *dir, const char *via) {
  char p[300], t[300];
  size_t n;
  snprintf(p, sizeof p, "%s/config.json", dir);
  char *cfg = fix_read(p, &n);
  cfg = realloc(cfg, n + 2);
  cfg[n] = ' '; /* the same JSON, other bytes: another version */
  if (via) {
    snprintf(t, sizeof t, "%s/%s", dir, via);
    fix_write(t, cfg, n + 1);
    assert_int_equal(rename(t, p), 0);
  } else {
    fix_write(p, cfg, n + 1);
  }
  free(cfg);
}

static void test_repeated_checks_describe_once(void **s) {
  (void)s;
  env e;
  char v[32], v2[32];
  hx_model_info want;
  hx_err err = {0};
  env_open(&e);
  unsigned long d0 = hx_models_describes(e.m);
  check_version(&e, "tiny-bert", v);
  assert_int_equal(hx_models_describes(e.m), d0 == 0 ? 1 : d0);
  unsigned long d1 = hx_models_describes(e.m);
  for (int i = 0; i < 100; i++) {
    check_version(&e, "tiny-bert", v2);
    assert_string_equal(v2, v);
  }
  check_version(&e, NULL, v2); /* the default is the same model, the same entry */
  assert_string_equal(v2, v);
  assert_int_equal(hx_models_describes(e.m), d1);
  assert_int_equal(hx_model_describe(e.models, "tiny-bert", 32, &want, &err), 0);
  assert_string_equal(v, want.version);
  /* lexical: keyed by the models directory alone */
  check_version(&e, "lexical", v2);
  assert_string_equal(v2, "v1");
  check_version(&e, "lexical", v2);
  assert_int_equal(hx_models_describes(e.m), d1 + 1);
  /* errors are answered each time, never cached as success */
  assert_int_equal(hx_models_check(e.m, "nope", NULL, &err), HX_ENOENT);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.msg, "Unknown model: nope");
  env_close(&e);
}

static void test_changes_are_seen(void **s) {
  (void)s;
  env e;
  char v0[32], v1[32], v2[32], v3[32];
  hx_model_info want;
  hx_err err = {0};
  env_open(&e);
  check_version(&e, "tiny-bert", v0);

  /* a file replaced by rename: the directory's mtime moves, seen at once */
  rewrite_config(e.dir, "config.json.tmp");
  check_version(&e, "tiny-bert", v1);
  assert_string_not_equal(v1, v0);
  assert_int_equal(hx_model_describe(e.models, "tiny-bert", 32, &want, &err), 0);
  assert_string_equal(v1, want.version);
  /* the directory changed just now (inside the racy window): not kept, so
   * every check describes again until it ages */
  unsigned long d = hx_models_describes(e.m);
  check_version(&e, "tiny-bert", v2);
  check_version(&e, "tiny-bert", v2);
  assert_string_equal(v2, v1);
  assert_int_equal(hx_models_describes(e.m), d + 2);
  age(e.dir, 100);
  check_version(&e, "tiny-bert", v2);
  d = hx_models_describes(e.m);
  check_version(&e, "tiny-bert", v2);
  assert_int_equal(hx_models_describes(e.m), d);

  /* a file rewritten in place (same inode, directory untouched) is the
   * documented limit: the cached answer stays until the directory is touched */
  rewrite_config(e.dir, NULL);
  check_version(&e, "tiny-bert", v3);
  assert_string_equal(v3, v1);
  age(e.dir, 50);
  check_version(&e, "tiny-bert", v3);
  assert_string_not_equal(v3, v1);
  assert_int_equal(hx_model_describe(e.models, "tiny-bert", 32, &want, &err), 0);
  assert_string_equal(v3, want.version);

  /* the model removed (renamed away): unknown at the next check */
  char gone[200];
  snprintf(gone, sizeof gone, "%s/.old-tiny-bert", e.models);
  assert_int_equal(rename(e.dir, gone), 0);
  assert_int_equal(hx_models_check(e.m, "tiny-bert", NULL, &err), HX_ENOENT);
  assert_int_equal(err.status, 400);
  /* and back (the models directory changed; aged past the racy window) */
  assert_int_equal(rename(gone, e.dir), 0);
  age(e.models, 100);
  check_version(&e, "tiny-bert", v2);
  assert_string_equal(v2, v3);
  env_close(&e);
}

typedef struct racer {
  env *e;
  int errors;
  char want[32];
} racer;

static void *check_loop(void *p) {
  racer *r = p;
  for (int i = 0; i < 2000; i++) {
    hx_model_info info;
    hx_err err = {0};
    if (hx_models_check(r->e->m, i % 3 ? "tiny-bert" : "lexical", &info, &err) != 0) r->errors++;
    else if (i % 3 && strcmp(info.version, r->want) != 0) r->errors++;
  }
  return NULL;
}

static void test_concurrent_checks(void **s) {
  (void)s;
  env e;
  racer r[6];
  pthread_t th[6];
  env_open(&e);
  char v[32];
  check_version(&e, "tiny-bert", v);
  for (int i = 0; i < 6; i++) {
    r[i] = (racer){.e = &e};
    snprintf(r[i].want, sizeof r[i].want, "%s", v);
    assert_int_equal(pthread_create(&th[i], NULL, check_loop, &r[i]), 0);
  }
  /* touching (not changing) the directories makes checks miss and refill
   * while others read: every answer must still be right */
  for (int k = 0; k < 200; k++) {
    age(e.dir, 100 + k % 7);
    age(e.models, 100 + k % 5);
  }
  for (int i = 0; i < 6; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(r[i].errors, 0);
  }
  env_close(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_repeated_checks_describe_once),
    cmocka_unit_test(test_changes_are_seen),
    cmocka_unit_test(test_concurrent_checks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
