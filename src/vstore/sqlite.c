/*
 * sqlite.c - the first embedded vector store: points in one SQLite file
 * (WAL, synchronous=FULL, group commit through util/sqlw.h), keyed by
 * (collection, org_id, id), vectors as little-endian float32 BLOBs.
 * Lookups are exact; the built-in engine (src/vec) replaces it for search.
 */
#include "vstore/vstore.h"
#include "util/json.h"
#include "util/sqlw.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS collections(name TEXT PRIMARY KEY, dim INTEGER NOT NULL, distance TEXT NOT NULL);"
    /* a rowid table: rows of ~1.5 KB append at the end instead of landing on a
     * random page of a clustered key (point ids are hashes) */
    "CREATE TABLE IF NOT EXISTS points(collection TEXT NOT NULL, org_id TEXT NOT NULL, id TEXT NOT NULL,"
    " vector BLOB NOT NULL, payload TEXT NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS points_key ON points(collection, org_id, id);";

typedef struct {
  hx_vstore base;
  hx_sqlw *w;
} sq_store;

#define SS(s) ((sq_store *)(s))

/* Several worker processes may share the file; a writer finding it locked by
 * another process's transaction (held for about one fsync) retries every
 * 250 µs instead of SQLite's default back-off, whose sleeps grow to 25-100 ms
 * and leave the file idle long after the lock was released. Gives up after
 * about 10 s, like the default timeout. */
static int busy_retry(void *arg, int count) {
  (void)arg;
  if (count >= 40000) return 0;
  usleep(count < 10 ? 50 : 250);
  return 1;
}

static int busy_fn(sqlite3 *db, void *arg, hx_err *err) {
  (void)arg;
  (void)err;
  sqlite3_busy_handler(db, busy_retry, NULL);
  return 0;
}

typedef struct { const char *coll; int dim; } ensure_arg;

static int ensure_fn(sqlite3 *db, void *p, hx_err *err) {
  ensure_arg *a = p;
  sqlite3_stmt *st = hx_sql_prep(db, "SELECT dim FROM collections WHERE name=?", err);
  if (!st) return HX_EDB;
  sqlite3_bind_text(st, 1, a->coll, -1, SQLITE_STATIC);
  int rc = 0;
  if (sqlite3_step(st) == SQLITE_ROW) {
    int dim = sqlite3_column_int(st, 0);
    if (dim != a->dim) rc = hx_err_set(err, HX_EINVAL, "collection %s has dimension %d, not %d", a->coll, dim, a->dim);
    hx_sql_done(st);
    return rc;
  }
  hx_sql_done(st);
  st = hx_sql_prep(db, "INSERT INTO collections(name, dim, distance) VALUES (?,?,'Cosine')", err);
  if (!st) return HX_EDB;
  sqlite3_bind_text(st, 1, a->coll, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, a->dim);
  if (sqlite3_step(st) != SQLITE_DONE) rc = hx_sql_err(db, err, "create collection");
  hx_sql_done(st);
  return rc;
}

static int ss_ensure(hx_vstore *s, const char *coll, int dim, hx_err *err) {
  ensure_arg a = {coll, dim};
  return hx_sqlw_run(SS(s)->w, ensure_fn, &a, err);
}

typedef struct { const char *coll, *org; const hx_vpoint *pts; size_t n; } upsert_arg;

static int upsert_fn(sqlite3 *db, void *p, hx_err *err) {
  upsert_arg *a = p;
  sqlite3_stmt *st = hx_sql_prep(db, "INSERT OR REPLACE INTO points(collection, org_id, id, vector, payload) VALUES (?,?,?,?,?)", err);
  if (!st) return HX_EDB;
  int rc = 0;
  for (size_t i = 0; i < a->n && !rc; i++) {
    char id[37];
    hx_uuid_str(&a->pts[i].id, id);
    char *pl = a->pts[i].payload ? hx_json_compact(a->pts[i].payload) : strdup("{}");
    sqlite3_bind_text(st, 1, a->coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->org, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 4, a->pts[i].vec, a->pts[i].dim * (int)sizeof(float), SQLITE_STATIC);
    sqlite3_bind_text(st, 5, pl, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE) rc = hx_sql_err(db, err, "upsert point");
    sqlite3_reset(st);
    free(pl);
  }
  hx_sql_done(st);
  return rc;
}

static int ss_upsert(hx_vstore *s, const char *coll, const char *org, const hx_vpoint *pts, size_t n, hx_err *err) {
  upsert_arg a = {coll, org, pts, n};
  return hx_sqlw_run(SS(s)->w, upsert_fn, &a, err);
}

static int ss_get(hx_vstore *s, const char *coll, const char *org, const hx_uuid *id, float **vec, int *dim,
                  json_t **payload, hx_err *err) {
  sqlite3 *db = hx_sqlw_reader_get(SS(s)->w);
  char ids[37];
  hx_uuid_str(id, ids);
  int rc = 0;
  *vec = NULL;
  *payload = NULL;
  sqlite3_stmt *st = hx_sql_prep(db, "SELECT vector, payload FROM points WHERE collection=? AND org_id=? AND id=?", err);
  if (!st) { rc = HX_EDB; goto out; }
  sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, ids, -1, SQLITE_STATIC);
  int r = sqlite3_step(st);
  if (r == SQLITE_DONE) { rc = hx_err_set(err, HX_ENOENT, "Point not found"); goto out; }
  if (r != SQLITE_ROW) { rc = hx_sql_err(db, err, "get point"); goto out; }
  int bytes = sqlite3_column_bytes(st, 0);
  *dim = bytes / (int)sizeof(float);
  *vec = malloc((size_t)bytes + 1);
  if (!*vec) { rc = hx_err_set(err, HX_ENOMEM, "out of memory"); goto out; }
  memcpy(*vec, sqlite3_column_blob(st, 0), (size_t)bytes);
  *payload = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
out:
  hx_sql_done(st);
  hx_sqlw_reader_put(SS(s)->w, db);
  return rc;
}

typedef struct { const char *coll, *org; const hx_uuid *ids; size_t n, deleted; } del_arg;

static int del_fn(sqlite3 *db, void *p, hx_err *err) {
  del_arg *a = p;
  sqlite3_stmt *st = hx_sql_prep(db, "DELETE FROM points WHERE collection=? AND org_id=? AND id=?", err);
  if (!st) return HX_EDB;
  a->deleted = 0;
  for (size_t i = 0; i < a->n; i++) {
    char id[37];
    hx_uuid_str(&a->ids[i], id);
    sqlite3_bind_text(st, 1, a->coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->org, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE) {
      hx_sql_done(st);
      return hx_sql_err(db, err, "delete point");
    }
    a->deleted += (size_t)sqlite3_changes(db);
    sqlite3_reset(st);
  }
  hx_sql_done(st);
  return 0;
}

static int ss_del(hx_vstore *s, const char *coll, const char *org, const hx_uuid *ids, size_t n, size_t *deleted,
                  hx_err *err) {
  del_arg a = {coll, org, ids, n, 0};
  int rc = hx_sqlw_run(SS(s)->w, del_fn, &a, err);
  if (deleted) *deleted = a.deleted;
  return rc;
}

static int ss_count(hx_vstore *s, const char *coll, const char *org, size_t *n, hx_err *err) {
  sqlite3 *db = hx_sqlw_reader_get(SS(s)->w);
  int rc = 0;
  sqlite3_stmt *st = hx_sql_prep(db, "SELECT count(*) FROM points WHERE collection=? AND org_id=?", err);
  if (!st) rc = HX_EDB;
  else {
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) *n = (size_t)sqlite3_column_int64(st, 0);
    else rc = hx_sql_err(db, err, "count points");
  }
  hx_sql_done(st);
  hx_sqlw_reader_put(SS(s)->w, db);
  return rc;
}

static int ss_total(hx_vstore *s, size_t *n, hx_err *err) {
  sqlite3 *db = hx_sqlw_reader_get(SS(s)->w);
  int rc = 0;
  sqlite3_stmt *st = hx_sql_prep(db, "SELECT count(*) FROM points", err);
  if (!st || sqlite3_step(st) != SQLITE_ROW) rc = hx_sql_err(db, err, "count points");
  else *n = (size_t)sqlite3_column_int64(st, 0);
  hx_sql_done(st);
  hx_sqlw_reader_put(SS(s)->w, db);
  return rc;
}

static void ss_close(hx_vstore *s) {
  if (!s) return;
  hx_sqlw_close(SS(s)->w);
  free(s);
}

static const hx_vstore_ops sqlite_ops = {ss_close, ss_ensure, ss_upsert, ss_get, ss_del, ss_count, ss_total};

int hx_vstore_open_sqlite(const char *path, int sync, hx_vstore **out, hx_err *err) {
  sq_store *s = calloc(1, sizeof *s);
  if (!s) return hx_err_set(err, HX_ENOMEM, "out of memory");
  s->base.ops = &sqlite_ops;
  int rc = hx_sqlw_open(path, SCHEMA, sync, &s->w, err);
  if (!rc) rc = hx_sqlw_run(s->w, busy_fn, NULL, err);   /* on the writer's connection */
  if (rc) {
    hx_sqlw_close(s->w);
    free(s);
    return rc;
  }
  *out = &s->base;
  return 0;
}
