/*
 * vectors.c - `heimdex vectors`: offline inspection of the built-in engine in
 * the data dir (the server must be stopped: one process owns the engine).
 * Runs the engine's integrity check and prints one JSON object: per collection
 * the point count per tenant, and with --org the ids of that org's points.
 * Tests and the soak run use it to prove nothing was lost or duplicated.
 */
#include "cli/cli.h"
#include "util/config.h"
#include "vec/vec.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *org_ids(hx_vec *db, const char *coll, const char *org, hx_err *err) {
  json_t *ids = json_array();
  hx_vec_id off, *from = NULL;
  for (;;) {
    hx_vec_record *recs = NULL;
    size_t n = 0;
    int more = 0;
    if (hx_vec_scroll(db, coll, org, from, 1000, NULL, 0, &recs, &n, &more, &off, err)) {
      json_decref(ids);
      return NULL;
    }
    for (size_t i = 0; i < n; i++) json_array_append_new(ids, hx_vec_id_to_json(&recs[i].id));
    hx_vec_records_release(recs, n);
    free(recs);
    if (!more) return ids;
    from = &off;
  }
}

int hx_cli_vectors(int argc, char **argv) {
  static const struct option opts[] = {{"data", required_argument, 0, 'd'}, {"org", required_argument, 0, 'o'},
                                       {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
  const char *org = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "d:o:h", opts, NULL)) != -1) {
    if (c == 'd') setenv("HEIMDEX_DATA_DIR", optarg, 1);
    else if (c == 'o') org = optarg;
    else {
      fputs("usage: heimdex vectors [--data DIR] [--org ORG_ID]   (with the server stopped)\n", c == 'h' ? stdout : stderr);
      return c == 'h' ? 0 : 2;
    }
  }
  hx_config cfg;
  hx_err err = {0};
  if (hx_config_load(&cfg, &err)) {
    fprintf(stderr, "heimdex: %s\n", err.msg);
    return 1;
  }
  char dir[600];
  snprintf(dir, sizeof dir, "%s/vec", cfg.data_dir);
  hx_vstore *vs = NULL;  /* opened through the store: it takes the engine's lock */
  hx_vec *db = NULL;
  if (hx_vstore_open_engine(dir, 1, &vs, &err) || !(db = hx_vstore_engine_db(vs))) {
    fprintf(stderr, "heimdex: %s\n", err.msg);
    return 1;
  }
  json_t *out = json_object(), *colls = json_object(), *names = NULL, *name;
  int rc = hx_vec_check(db, &err) ? 1 : 0;
  json_object_set_new(out, "check", json_string(rc ? err.msg : "ok"));
  size_t i;
  if (!hx_vec_collection_list(db, &names, &err)) json_array_foreach(names, i, name) {
      const char *cn = json_string_value(name);
      json_t *info = NULL;
      if (hx_vec_collection_info(db, cn, &info, &err)) continue;
      json_t *tn = json_object(), *t;
      const char *key;
      json_object_foreach(json_object_get(info, "tenants"), key, t)
        json_object_set(tn, key, json_object_get(t, "points"));
      json_t *cj = json_pack("{s:O,s:o}", "points", json_object_get(info, "points_count"), "tenants", tn);
      if (org) {
        json_t *ids = org_ids(db, cn, org, &err);
        json_object_set_new(cj, "ids", ids ? ids : json_string(err.msg));
      }
      json_object_set_new(colls, cn, cj);
      json_decref(info);
    }
  json_decref(names);
  json_object_set_new(out, "collections", colls);
  char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
  puts(s);
  free(s);
  json_decref(out);
  vs->ops->close(vs);
  return rc;
}
