/*
 * sqlite.c - the embedded job ledger: SQLite in WAL mode, synchronous=FULL,
 * every write applied by the group-commit writer (util/sqlw.h), so a 200 on
 * create means job + event + outbox are on disk, and many creates share one
 * fsync. The writer is the only writer, which also makes create's
 * check-then-insert on job_key race-free (the UNIQUE index backs it up).
 *
 * Times are stored as REAL seconds since the epoch (UTC) and printed as
 * ISO-8601 by the API.
 */
#include "jobs/store.h"
#include "util/json.h"
#include "util/log.h"
#include "util/sqlw.h"

#include <stdlib.h>
#include <string.h>

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS job ("
    " id TEXT PRIMARY KEY,"
    " org_id TEXT NOT NULL,"
    " type TEXT NOT NULL CHECK (length(type) <= 100),"
    " status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued','running','succeeded','failed','canceled','dead_letter')),"
    " attempt INTEGER NOT NULL DEFAULT 0,"
    " max_attempts INTEGER NOT NULL DEFAULT 5,"
    " backoff_policy TEXT NOT NULL DEFAULT 'exp' CHECK (backoff_policy IN ('none','fixed','exp')),"
    " priority INTEGER NOT NULL DEFAULT 0,"
    " idempotency_key TEXT,"
    " job_key TEXT UNIQUE,"
    " requested_by TEXT,"
    " created_at REAL NOT NULL,"
    " updated_at REAL NOT NULL,"
    " started_at REAL,"
    " finished_at REAL,"
    " last_error_code TEXT,"
    " last_error_message TEXT,"
    " stage TEXT,"
    " progress INTEGER NOT NULL DEFAULT 0,"
    " result TEXT,"
    " next_run_at REAL,"
    " CHECK ((status IN ('succeeded','failed','canceled','dead_letter') AND finished_at IS NOT NULL)"
    "     OR (status IN ('queued','running') AND finished_at IS NULL)));"
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_job__org_id_idempotency_key ON job(org_id, idempotency_key)"
    " WHERE idempotency_key IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS idx_job__org_id_created_at_desc ON job(org_id, created_at DESC);"
    "CREATE INDEX IF NOT EXISTS idx_job__status_created_at ON job(status, created_at);"
    "CREATE TABLE IF NOT EXISTS job_event ("
    " id TEXT PRIMARY KEY,"
    " job_id TEXT NOT NULL REFERENCES job(id) ON DELETE CASCADE,"
    " ts REAL NOT NULL,"
    " prev_status TEXT,"
    " next_status TEXT NOT NULL,"
    " detail_json TEXT);"
    "CREATE INDEX IF NOT EXISTS idx_job_event__job_id_ts ON job_event(job_id, ts);"
    "CREATE INDEX IF NOT EXISTS idx_job_event__ts ON job_event(ts);"
    "CREATE TABLE IF NOT EXISTS outbox ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " job_id TEXT NOT NULL REFERENCES job(id) ON DELETE CASCADE,"
    " task_name TEXT NOT NULL,"
    " payload TEXT NOT NULL,"
    " sent_at REAL,"
    " fail_count INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT,"
    " created_at REAL NOT NULL);"
    "CREATE INDEX IF NOT EXISTS idx_outbox_unsent ON outbox(id) WHERE sent_at IS NULL;"
    "CREATE INDEX IF NOT EXISTS idx_outbox_job_id ON outbox(job_id);"
    /* uploaded documents (assets.c, actors_asset.c) */
    "CREATE TABLE IF NOT EXISTS asset ("
    " org_id TEXT NOT NULL,"
    " asset_id TEXT NOT NULL,"
    " job_id TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('queued','ready','failed')),"
    " source_type TEXT NOT NULL DEFAULT '',"
    " filename TEXT NOT NULL DEFAULT '',"
    " content_sha256 TEXT NOT NULL DEFAULT '',"
    " bytes INTEGER NOT NULL DEFAULT 0,"
    " chunk_count INTEGER NOT NULL DEFAULT 0,"
    " model TEXT NOT NULL DEFAULT '',"
    " model_ver TEXT NOT NULL DEFAULT '',"
    " created_at REAL NOT NULL,"
    " updated_at REAL NOT NULL,"
    " PRIMARY KEY (org_id, asset_id));"
    "INSERT INTO schema_version(version) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM schema_version);";

typedef struct {
  hx_ledger base;
  hx_sqlw *w;
  long long cursor;   /* highest outbox id handed to the dispatcher (its thread only) */
} sq_ledger;

#define SQ(l) ((sq_ledger *)(l))

/* ---- small statement helpers (all run on the writer's or a reader's connection) ---- */

static int exec_bind(sqlite3 *db, hx_err *err, const char *sql, const char *fmt, ...) {
  sqlite3_stmt *st = hx_sql_prep(db, sql, err);
  if (!st) return HX_EDB;
  va_list ap;
  va_start(ap, fmt);
  for (int i = 0; fmt[i]; i++) {
    switch (fmt[i]) {
      case 's': { const char *s = va_arg(ap, const char *);
                  if (s) sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT); else sqlite3_bind_null(st, i + 1); break; }
      case 'i': sqlite3_bind_int64(st, i + 1, va_arg(ap, long long)); break;
      case 'd': sqlite3_bind_double(st, i + 1, va_arg(ap, double)); break;
    }
  }
  va_end(ap);
  int rc = sqlite3_step(st);
  int out = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : hx_sql_err(db, err, sql);
  hx_sql_done(st);
  return out;
}

static int add_event(sqlite3 *db, const char *job_id, double ts, const char *prev, const char *next,
                     json_t *detail /* stolen */, hx_err *err) {
  hx_uuid u;
  char id[37];
  hx_uuid_v7(&u);
  hx_uuid_str(&u, id);
  char *dj = detail ? hx_json_compact(detail) : NULL;
  json_decref(detail);
  int rc = exec_bind(db, err, "INSERT INTO job_event(id, job_id, ts, prev_status, next_status, detail_json) VALUES (?,?,?,?,?,?)",
                     "ssdsss", id, job_id, ts, prev, next, dj);
  free(dj);
  return rc;
}

static json_t *step_detail(const char *stage, int progress) {
  return json_pack("{s:s,s:i}", "stage", stage, "progress", progress);
}

/* ---- create ---- */

typedef struct { const hx_job_new *j; char *id_out; int created; } create_arg;

static int create_fn(sqlite3 *db, void *p, hx_err *err) {
  create_arg *a = p;
  const hx_job_new *j = a->j;
  double now = hx_now();
  /* the unique index decides: a duplicate inserts nothing and we return the existing id */
  int rc = exec_bind(db, err,
      "INSERT INTO job(id, org_id, type, status, attempt, max_attempts, job_key, requested_by, created_at, updated_at, progress)"
      " VALUES (?,?,?,'queued',0,?,?,?,?,?,0) ON CONFLICT(job_key) DO NOTHING",
      "sssissdd", j->id, j->org_id, j->type, (long long)j->max_attempts, j->job_key, j->requested_by, now, now);
  if (rc) return rc;
  if (sqlite3_changes(db) == 0) {
    sqlite3_stmt *st = hx_sql_prep(db, "SELECT id FROM job WHERE job_key = ?", err);
    if (!st) return HX_EDB;
    sqlite3_bind_text(st, 1, j->job_key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_ROW ? 0 : hx_sql_err(db, err, "find job by key");
    if (!rc) snprintf(a->id_out, HX_UUID_STRLEN + 1, "%s", (const char *)sqlite3_column_text(st, 0));
    hx_sql_done(st);
    a->created = 0;
    return rc;
  }
  if ((rc = add_event(db, j->id, now, NULL, "queued", NULL, err))) return rc;
  char *payload = hx_json_compact(j->payload);
  rc = exec_bind(db, err, "INSERT INTO outbox(job_id, task_name, payload, created_at) VALUES (?,?,?,?)",
                 "sssd", j->id, j->task_name, payload, now);
  free(payload);
  if (rc) return rc;
  snprintf(a->id_out, HX_UUID_STRLEN + 1, "%s", j->id);
  a->created = 1;
  return 0;
}

static int sq_create(hx_ledger *l, const hx_job_new *j, char id_out[HX_UUID_STRLEN + 1], int *created, hx_err *err) {
  create_arg a = {j, id_out, 0};
  int rc = hx_sqlw_run(SQ(l)->w, create_fn, &a, err);
  if (created) *created = a.created;
  return rc;
}

/* ---- get ---- */

void hx_job_view_release(hx_job_view *v) {
  json_decref(v->result);
  free(v->error);
  v->result = NULL;
  v->error = NULL;
}

static int sq_get(hx_ledger *l, const char *job_id, hx_job_view *v, hx_err *err) {
  sqlite3 *db = hx_sqlw_reader_get(SQ(l)->w);
  memset(v, 0, sizeof *v);
  int rc = HX_EDB;
  sqlite3_stmt *st = hx_sql_prep(db,
      "SELECT id, org_id, type, status, stage, progress, attempt, max_attempts, result, last_error_message,"
      " created_at, updated_at FROM job WHERE id = ?", err);
  if (!st) goto out;
  sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
  int s = sqlite3_step(st);
  if (s == SQLITE_DONE) { rc = hx_err_set(err, HX_ENOENT, "Job not found"); goto out; }
  if (s != SQLITE_ROW) { rc = hx_sql_err(db, err, "get job"); goto out; }
#define COL(i) ((const char *)sqlite3_column_text(st, i))
  snprintf(v->id, sizeof v->id, "%s", COL(0));
  snprintf(v->org_id, sizeof v->org_id, "%s", COL(1));
  snprintf(v->type, sizeof v->type, "%s", COL(2));
  snprintf(v->status, sizeof v->status, "%s", COL(3));
  snprintf(v->stage, sizeof v->stage, "%s", COL(4) ? COL(4) : "");
  v->progress = sqlite3_column_int(st, 5);
  v->attempt = sqlite3_column_int(st, 6);
  v->max_attempts = sqlite3_column_int(st, 7);
  if (COL(8)) v->result = json_loads(COL(8), 0, NULL);
  if (COL(9)) v->error = strdup(COL(9));
  v->created_at = sqlite3_column_double(st, 10);
  v->updated_at = sqlite3_column_double(st, 11);
#undef COL
  rc = 0;
out:
  hx_sql_done(st);
  hx_sqlw_reader_put(SQ(l)->w, db);
  return rc;
}

/* ---- claim ----
 * Reads unsent rows past the dispatcher's cursor on a reader connection and
 * marks the range sent with one posted (not awaited) update. The cursor keeps
 * rows whose mark has not committed yet from being claimed twice; ids grow in
 * commit order because there is one writer. After a crash the cursor restarts
 * at 0 and recover() has made unfinished jobs' rows unsent again. */

typedef struct { long long lo, hi; double ts; } mark_arg;

static int mark_fn(sqlite3 *db, void *p, hx_err *err) {
  mark_arg *a = p;
  return exec_bind(db, err, "UPDATE outbox SET sent_at = ? WHERE id BETWEEN ? AND ? AND sent_at IS NULL", "dii",
                   a->ts, a->lo, a->hi);
}

static void free_arg(void *p, int rc) { free(p); }

void hx_job_msg_release(hx_job_msg *m) {
  json_decref(m->payload);
  m->payload = NULL;
}

static int sq_claim(hx_ledger *l, hx_job_msg *out, size_t max, size_t *n, hx_err *err) {
  sq_ledger *q = SQ(l);
  sqlite3 *db = hx_sqlw_reader_get(q->w);
  int rc = 0;
  *n = 0;
  sqlite3_stmt *st = hx_sql_prep(db,
      "SELECT o.id, o.job_id, o.task_name, o.payload, j.next_run_at FROM outbox o JOIN job j ON j.id = o.job_id"
      " WHERE o.sent_at IS NULL AND o.id > ? ORDER BY o.id LIMIT ?", err);
  if (!st) { rc = HX_EDB; goto out; }
  sqlite3_bind_int64(st, 1, q->cursor);
  sqlite3_bind_int64(st, 2, (long long)max);
  int r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    hx_job_msg *m = &out[*n];
    memset(m, 0, sizeof *m);
    m->outbox_id = sqlite3_column_int64(st, 0);
    snprintf(m->job_id, sizeof m->job_id, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(m->task_name, sizeof m->task_name, "%s", (const char *)sqlite3_column_text(st, 2));
    m->payload = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
    m->not_before = sqlite3_column_double(st, 4);
    (*n)++;
  }
  if (r != SQLITE_DONE) rc = hx_sql_err(db, err, "claim outbox");
out:
  hx_sql_done(st);
  hx_sqlw_reader_put(q->w, db);
  if (rc || *n == 0) return rc;
  q->cursor = out[*n - 1].outbox_id;
  return 0;
}

static int sq_claimed(hx_ledger *l, const hx_job_msg *msgs, size_t n, size_t published, const char *error,
                      hx_err *err) {
  sq_ledger *q = SQ(l);
  if (published < n && q->cursor >= msgs[published].outbox_id)
    q->cursor = msgs[published].outbox_id - 1;   /* not taken: claim them again next time */
  if (published == 0) return 0;
  mark_arg *m = malloc(sizeof *m);
  if (!m) return hx_err_set(err, HX_ENOMEM, "out of memory");
  *m = (mark_arg){msgs[0].outbox_id, msgs[published - 1].outbox_id, hx_now()};
  int rc = hx_sqlw_post(q->w, mark_fn, m, free_arg);
  if (rc) free(m);
  return rc;
}

/* ---- start ---- */

typedef struct { const char *const *ids; const int *reclaimed; size_t n; int *started, *attempt; } start_arg;

static int start_fn(sqlite3 *db, void *p, hx_err *err) {
  start_arg *a = p;
  double now = hx_now();
  for (size_t i = 0; i < a->n; i++) {
    a->started[i] = 0;
    sqlite3_stmt *st = hx_sql_prep(db, "SELECT status, attempt FROM job WHERE id = ?", err);
    if (!st) return HX_EDB;
    sqlite3_bind_text(st, 1, a->ids[i], -1, SQLITE_STATIC);
    int queued = 0, running = 0, attempt = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
      queued = strcmp((const char *)sqlite3_column_text(st, 0), "queued") == 0;
      running = strcmp((const char *)sqlite3_column_text(st, 0), "running") == 0;
      attempt = sqlite3_column_int(st, 1);
    }
    hx_sql_done(st);
    if (!queued && !(running && a->reclaimed && a->reclaimed[i])) continue;
    int rc = exec_bind(db, err,
        "UPDATE job SET status='running', attempt=attempt+1, started_at=COALESCE(started_at, ?), updated_at=?,"
        " stage='initializing', progress=0, next_run_at=NULL WHERE id = ?", "dds", now, now, a->ids[i]);
    if (!rc) rc = add_event(db, a->ids[i], now, queued ? "queued" : "running", "running",
                            step_detail("initializing", 0), err);
    if (rc) return rc;
    a->started[i] = 1;
    if (a->attempt) a->attempt[i] = attempt + 1;
  }
  return 0;
}

static int sq_start(hx_ledger *l, const char *const *ids, const int *reclaimed, size_t n, int *started, int *attempt,
                    hx_err *err) {
  start_arg a = {ids, reclaimed, n, started, attempt};
  return hx_sqlw_run(SQ(l)->w, start_fn, &a, err);
}

/* ---- progress (posted, not awaited) ---- */

typedef struct { char job_id[HX_UUID_STRLEN + 1]; char stage[64]; int progress; double ts; } progress_arg;

static int progress_fn(sqlite3 *db, void *p, hx_err *err) {
  progress_arg *a = p;
  int rc = exec_bind(db, err, "UPDATE job SET stage=?, progress=?, updated_at=? WHERE id=? AND status='running'",
                     "sids", a->stage, (long long)a->progress, a->ts, a->job_id);
  if (!rc && sqlite3_changes(db) > 0)
    rc = add_event(db, a->job_id, a->ts, "running", "running", step_detail(a->stage, a->progress), err);
  return rc;
}

static int sq_progress(hx_ledger *l, const char *job_id, const char *stage, int progress) {
  progress_arg *a = calloc(1, sizeof *a);
  if (!a) return HX_ENOMEM;
  snprintf(a->job_id, sizeof a->job_id, "%s", job_id);
  snprintf(a->stage, sizeof a->stage, "%s", stage);
  a->progress = progress;
  a->ts = hx_now();
  int rc = hx_sqlw_post(SQ(l)->w, progress_fn, a, free_arg);
  if (rc) free(a);
  return rc;
}

/* ---- finish ---- */

typedef struct { const hx_job_outcome *o; size_t n; } finish_arg;

static int finish_one(sqlite3 *db, const hx_job_outcome *o, hx_err *err) {
  int rc = 0;
  /* steps become events; the job row itself only needs the final state */
  for (size_t s = 0; s < o->nsteps && !rc; s++)
    rc = add_event(db, o->job_id, o->steps[s].ts, "running", "running",
                   step_detail(o->steps[s].stage, o->steps[s].progress), err);
  if (rc) return rc;
  double now = hx_now();
  if (o->ok) {
    char *res = o->result ? hx_json_compact(o->result) : NULL;
    rc = exec_bind(db, err,
        "UPDATE job SET status='succeeded', stage='completed', progress=100, result=?, updated_at=?, finished_at=?,"
        " next_run_at=NULL WHERE id=? AND status='running'", "sdds", res, now, now, o->job_id);
    free(res);
    if (rc || sqlite3_changes(db) == 0) return rc ? rc : HX_ESTATE;
    json_t *d = json_pack("{s:s,s:i,s:O?}", "stage", "completed", "progress", 100, "result", o->result);
    rc = add_event(db, o->job_id, now, "running", "succeeded", d, err);
  } else if (o->retry) {
    rc = exec_bind(db, err,
        "UPDATE job SET status='queued', last_error_code='retry', last_error_message=?, updated_at=?, next_run_at=?"
        " WHERE id=? AND status='running'", "sdds", o->error, now, o->not_before, o->job_id);
    if (rc || sqlite3_changes(db) == 0) return rc ? rc : HX_ESTATE;
    json_t *d = json_pack("{s:s,s:s,s:f}", "stage", "retry_scheduled", "error", o->error ? o->error : "",
                          "retry_at", o->not_before);
    rc = add_event(db, o->job_id, now, "running", "queued", d, err);
  } else {
    rc = exec_bind(db, err,
        "UPDATE job SET status='failed', last_error_code='failed', last_error_message=?, updated_at=?, finished_at=?,"
        " next_run_at=NULL WHERE id=? AND status='running'", "sdds", o->error, now, now, o->job_id);
    if (rc || sqlite3_changes(db) == 0) return rc ? rc : HX_ESTATE;
    json_t *d = json_pack("{s:s?,s:s}", "stage", NULL, "error", o->error ? o->error : "");
    rc = add_event(db, o->job_id, now, "running", "failed", d, err);
  }
  /* the request (which may hold raw text) is not kept once the job has ended */
  if (!rc && (o->ok || !o->retry)) rc = exec_bind(db, err, "DELETE FROM outbox WHERE job_id=?", "s", o->job_id);
  return rc;
}

static int finish_fn(sqlite3 *db, void *p, hx_err *err) {
  finish_arg *a = p;
  for (size_t i = 0; i < a->n; i++) {
    hx_sql_run(db, "SAVEPOINT one");
    int rc = finish_one(db, &a->o[i], err);
    if (rc) hx_sql_run(db, "ROLLBACK TO one");
    hx_sql_run(db, "RELEASE one");
    if (rc == HX_ESTATE) rc = 0; /* no longer running (e.g. canceled): nothing to record */
    if (rc) return rc;
  }
  return 0;
}

static int sq_finish(hx_ledger *l, const hx_job_outcome *o, size_t n, hx_err *err) {
  finish_arg a = {o, n};
  return hx_sqlw_run(SQ(l)->w, finish_fn, &a, err);
}

/* ---- recover / stats / close ---- */

typedef struct { size_t n; } recover_arg;

static int recover_fn(sqlite3 *db, void *p, hx_err *err) {
  recover_arg *a = p;
  double now = hx_now();
  int rc = 0;
  sqlite3_stmt *st = hx_sql_prep(db, "SELECT id FROM job WHERE status='running'", err);
  if (!st) return HX_EDB;
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    json_t *d = json_pack("{s:s,s:i}", "stage", "recovered", "progress", 0);
    rc = add_event(db, (const char *)sqlite3_column_text(st, 0), now, "running", "queued", d, err);
  }
  hx_sql_done(st);
  if (!rc) rc = exec_bind(db, err, "UPDATE job SET status='queued', updated_at=? WHERE status='running'", "d", now);
  if (!rc) rc = exec_bind(db, err,
      "UPDATE outbox SET sent_at = NULL WHERE sent_at IS NOT NULL AND job_id IN (SELECT id FROM job WHERE status='queued')", "");
  a->n = rc ? 0 : (size_t)sqlite3_changes(db);
  return rc;
}

typedef struct { double before; size_t n; } prune_arg;

/* Sent rows of open jobs stay: recover() re-delivers them after a crash. */
static int prune_fn(sqlite3 *db, void *p, hx_err *err) {
  prune_arg *a = p;
  int rc = exec_bind(db, err,
      "DELETE FROM outbox WHERE created_at < ? AND job_id IN (SELECT id FROM job WHERE finished_at IS NOT NULL)", "d",
      a->before);
  a->n = rc ? 0 : (size_t)sqlite3_changes(db);
  return rc;
}

static int sq_prune(hx_ledger *l, double older_than_s, size_t *deleted, hx_err *err) {
  prune_arg a = {hx_now() - older_than_s, 0};
  int rc = hx_sqlw_run(SQ(l)->w, prune_fn, &a, err);
  *deleted = a.n;
  return rc;
}

static int sq_recover(hx_ledger *l, size_t *n, hx_err *err) {
  recover_arg a = {0};
  int rc = hx_sqlw_run(SQ(l)->w, recover_fn, &a, err);
  if (n) *n = a.n;
  return rc;
}

static int sq_stats(hx_ledger *l, hx_ledger_stats *out, hx_err *err) {
  sqlite3 *db = hx_sqlw_reader_get(SQ(l)->w);
  int rc = 0;
  sqlite3_stmt *st = hx_sql_prep(db,
      "SELECT (SELECT count(*) FROM outbox WHERE sent_at IS NULL), (SELECT count(*) FROM job WHERE status IN ('queued','running')),"
      " (SELECT min(created_at) FROM outbox WHERE sent_at IS NULL)", err);
  if (!st || sqlite3_step(st) != SQLITE_ROW) rc = hx_sql_err(db, err, "stats");
  else {
    out->outbox_unsent = sqlite3_column_int64(st, 0);
    out->jobs_open = sqlite3_column_int64(st, 1);
    out->outbox_oldest_age_s = sqlite3_column_type(st, 2) == SQLITE_NULL ? 0 : hx_now() - sqlite3_column_double(st, 2);
  }
  hx_sql_done(st);
  hx_sqlw_reader_put(SQ(l)->w, db);
  return rc;
}

/* ---- assets ---- */

static int asset_put_fn(sqlite3 *db, void *p, hx_err *err) {
  const hx_asset_view *a = p;
  double now = hx_now();
  return exec_bind(db, err,
      "INSERT INTO asset(org_id, asset_id, job_id, status, filename, content_sha256, bytes, created_at, updated_at)"
      " VALUES (?,?,?,'queued',?,?,?,?,?) ON CONFLICT(org_id, asset_id) DO UPDATE SET job_id = excluded.job_id,"
      " status = 'queued', filename = excluded.filename, content_sha256 = excluded.content_sha256,"
      " bytes = excluded.bytes, updated_at = excluded.updated_at",
      "sssssidd", a->org_id, a->asset_id, a->job_id, a->filename, a->content_sha256, a->bytes, now, now);
}

static int sq_asset_put(hx_ledger *l, const hx_asset_view *a, hx_err *err) {
  return hx_sqlw_run(SQ(l)->w, asset_put_fn, (void *)a, err);
}

static int asset_done_fn(sqlite3 *db, void *p, hx_err *err) {
  const hx_asset_view *a = p;
  if (strcmp(a->status, "ready"))   /* a failed version leaves the stored chunks' description alone */
    return exec_bind(db, err, "UPDATE asset SET status = ?, updated_at = ? WHERE org_id = ? AND asset_id = ? AND job_id = ?",
                     "sdsss", a->status, hx_now(), a->org_id, a->asset_id, a->job_id);
  return exec_bind(db, err,
      "UPDATE asset SET status = ?, source_type = ?, chunk_count = ?, model = ?, model_ver = ?, updated_at = ?"
      " WHERE org_id = ? AND asset_id = ? AND job_id = ?",
      "ssissdsss", a->status, a->source_type, a->chunk_count, a->model, a->model_ver, hx_now(), a->org_id,
      a->asset_id, a->job_id);
}

static int sq_asset_done(hx_ledger *l, const hx_asset_view *a, hx_err *err) {
  return hx_sqlw_run(SQ(l)->w, asset_done_fn, (void *)a, err);
}

typedef struct { const char *org, *asset; int deleted; } asset_del_arg;

static int asset_delete_fn(sqlite3 *db, void *p, hx_err *err) {
  asset_del_arg *a = p;
  int rc = exec_bind(db, err, "DELETE FROM asset WHERE org_id = ? AND asset_id = ?", "ss", a->org, a->asset);
  a->deleted = rc ? 0 : sqlite3_changes(db) > 0;
  return rc;
}

static int sq_asset_delete(hx_ledger *l, const char *org, const char *asset_id, int *deleted, hx_err *err) {
  asset_del_arg a = {org, asset_id, 0};
  int rc = hx_sqlw_run(SQ(l)->w, asset_delete_fn, &a, err);
  if (deleted) *deleted = a.deleted;
  return rc;
}

static int sq_asset_get(hx_ledger *l, const char *org, const char *asset_id, hx_asset_view *v, hx_err *err) {
  sqlite3 *db = hx_sqlw_reader_get(SQ(l)->w);
  memset(v, 0, sizeof *v);
  int rc = HX_EDB;
  sqlite3_stmt *st = hx_sql_prep(db,
      "SELECT org_id, asset_id, job_id, status, source_type, filename, bytes, chunk_count, model, model_ver,"
      " created_at, updated_at, content_sha256 FROM asset WHERE org_id = ? AND asset_id = ?", err);
  if (!st) goto out;
  sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, asset_id, -1, SQLITE_STATIC);
  int s = sqlite3_step(st);
  if (s == SQLITE_DONE) { rc = hx_err_set(err, HX_ENOENT, "Asset not found"); goto out; }
  if (s != SQLITE_ROW) { rc = hx_sql_err(db, err, "get asset"); goto out; }
#define COL(i) ((const char *)sqlite3_column_text(st, i))
  snprintf(v->org_id, sizeof v->org_id, "%s", COL(0));
  snprintf(v->asset_id, sizeof v->asset_id, "%s", COL(1));
  snprintf(v->job_id, sizeof v->job_id, "%s", COL(2));
  snprintf(v->status, sizeof v->status, "%s", COL(3));
  snprintf(v->source_type, sizeof v->source_type, "%s", COL(4));
  snprintf(v->filename, sizeof v->filename, "%s", COL(5));
  v->bytes = sqlite3_column_int64(st, 6);
  v->chunk_count = sqlite3_column_int64(st, 7);
  snprintf(v->model, sizeof v->model, "%s", COL(8));
  snprintf(v->model_ver, sizeof v->model_ver, "%s", COL(9));
  v->created_at = sqlite3_column_double(st, 10);
  v->updated_at = sqlite3_column_double(st, 11);
  snprintf(v->content_sha256, sizeof v->content_sha256, "%s", COL(12));
#undef COL
  rc = 0;
out:
  hx_sql_done(st);
  hx_sqlw_reader_put(SQ(l)->w, db);
  return rc;
}

static void sq_close(hx_ledger *l) {
  if (!l) return;
  hx_sqlw_close(SQ(l)->w);
  free(l);
}

static const hx_ledger_ops sqlite_ops = {
    .close = sq_close, .create = sq_create, .get = sq_get, .claim = sq_claim, .claimed = sq_claimed, .start = sq_start,
    .progress = sq_progress, .finish = sq_finish, .recover = sq_recover, .prune = sq_prune,
    .stats = sq_stats,
    .asset_put = sq_asset_put, .asset_get = sq_asset_get, .asset_done = sq_asset_done,
    .asset_delete = sq_asset_delete,
};

int hx_ledger_open_sqlite(const char *path, int sync, hx_ledger **out, hx_err *err) {
  sq_ledger *l = calloc(1, sizeof *l);
  if (!l) return hx_err_set(err, HX_ENOMEM, "out of memory");
  l->base.ops = &sqlite_ops;
  int rc = hx_sqlw_open(path, SCHEMA, sync, &l->w, err);
  if (rc) {
    free(l);
    return rc;
  }
  *out = &l->base;
  return 0;
}

