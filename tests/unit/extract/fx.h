/*
 * fx.h - shared by the extract and chunk unit tests: generate the document
 * fixtures (tests/fixtures/docs/gen.py) into a fresh temporary directory and
 * load expect.json, the generator's record of what it wrote.
 */
#ifndef HX_TEST_FX_H
#define HX_TEST_FX_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char fx_dir[256];
static json_t *fx_expect;

/* 0 on success. Run from the project root (ctest's working directory). */
static inline int fx_setup(void **state) {
  (void)state;
  snprintf(fx_dir, sizeof fx_dir, "/tmp/hx-fx-XXXXXX");
  if (!mkdtemp(fx_dir)) return -1;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/fixtures/docs/gen.py %s", fx_dir);
  if (system(cmd) != 0) return -1;
  char path[512];
  snprintf(path, sizeof path, "%s/expect.json", fx_dir);
  fx_expect = json_load_file(path, 0, NULL);
  return fx_expect ? 0 : -1;
}

static inline int fx_teardown(void **state) {
  (void)state;
  json_decref(fx_expect);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s", fx_dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Path of a fixture (static buffer, one at a time). */
static inline const char *fx(const char *name) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", fx_dir, name);
  return path;
}

#endif
