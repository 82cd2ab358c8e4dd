/* sqlw.c - SQLite writer thread with group commit and a reader pool. */
#include "util/sqlw.h"
#include "util/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define READERS 8
#define MAX_BATCH 512

typedef struct op {
  hx_sqlw_fn fn;
  void *arg;
  void (*done)(void *, int);
  int rc;
  int finished;
  hx_err *err;
  struct op *next;
} op;

struct hx_sqlw {
  sqlite3 *db;
  char *path;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv_work, cv_done;
  op *head, *tail;
  int stopping;
  unsigned long commits;
  sqlite3 *readers[READERS];
  int nreaders_free;
  pthread_mutex_t rmu;
  pthread_cond_t rcv;
  int sync;
};

int hx_sql_err(sqlite3 *db, hx_err *err, const char *what) {
  return hx_err_set(err, HX_EDB, "%s: %s", what, sqlite3_errmsg(db));
}

sqlite3_stmt *hx_sql_prep(sqlite3 *db, const char *sql, hx_err *err) {
  sqlite3_stmt *st = NULL;
  while ((st = sqlite3_next_stmt(db, st)))
    if (!sqlite3_stmt_busy(st) && strcmp(sqlite3_sql(st), sql) == 0) return st;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
    hx_sql_err(db, err, "prepare");
    return NULL;
  }
  return st;
}

void hx_sql_done(sqlite3_stmt *st) {
  if (!st) return;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

static void close_conn(sqlite3 *db) {
  sqlite3_stmt *st;
  while (db && (st = sqlite3_next_stmt(db, NULL))) sqlite3_finalize(st);
  sqlite3_close(db);
}

static int open_conn(const char *path, int readonly, int sync, sqlite3 **out, hx_err *err) {
  sqlite3 *db = NULL;
  int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
    int rc = hx_err_set(err, HX_EIO, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return rc;
  }
  sqlite3_busy_timeout(db, 10000);
  /* temp_store=MEMORY: savepoint (statement) journals stay off the disk */
  const char *pragmas = readonly ? "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
                        : sync ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
                               : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;";
  char *msg = NULL;
  if (sqlite3_exec(db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
    int rc = hx_err_set(err, HX_EIO, "cannot configure %s: %s", path, msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc;
  }
  *out = db;
  return 0;
}

static void *writer_main(void *p) {
  hx_sqlw *w = p;
  for (;;) {
    pthread_mutex_lock(&w->mu);
    while (!w->head && !w->stopping) pthread_cond_wait(&w->cv_work, &w->mu);
    if (!w->head && w->stopping) {
      pthread_mutex_unlock(&w->mu);
      break;
    }
    op *batch = w->head, *last = batch;
    int n = 1;
    while (last->next && n < MAX_BATCH) { last = last->next; n++; }
    w->head = last->next;
    if (!w->head) w->tail = NULL;
    last->next = NULL;
    pthread_mutex_unlock(&w->mu);

    hx_err cerr = {0};
    int crc = 0;
    if (sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
      crc = hx_sql_err(w->db, &cerr, "begin");
    for (op *o = batch; o; o = o->next) {
      if (crc) { o->rc = crc; continue; }
      sqlite3_exec(w->db, "SAVEPOINT op", NULL, NULL, NULL);
      hx_err local = {0};
      o->rc = o->fn(w->db, o->arg, o->err ? o->err : &local);
      if (o->rc) sqlite3_exec(w->db, "ROLLBACK TO op", NULL, NULL, NULL);
      sqlite3_exec(w->db, "RELEASE op", NULL, NULL, NULL);
      if (o->rc && !o->err && o->rc != HX_ENOENT && o->rc != HX_ESTATE)
        hx_log(HX_LOG_WARN, "db_op_failed", json_pack("{s:s}", "error", local.msg));
    }
    if (!crc && sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
      crc = hx_sql_err(w->db, &cerr, "commit");
      sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
    }
    if (crc) hx_log(HX_LOG_ERROR, "db_commit_failed", json_pack("{s:s}", "error", cerr.msg));

    pthread_mutex_lock(&w->mu);
    w->commits++;
    op *o = batch;
    while (o) {
      op *next = o->next;
      if (crc) {
        o->rc = crc;
        if (o->err) *o->err = cerr;
      }
      if (o->done || !o->err) {
        /* posted op: nobody waits; hand back and free */
        pthread_mutex_unlock(&w->mu);
        if (o->done) o->done(o->arg, o->rc);
        free(o);
        pthread_mutex_lock(&w->mu);
      } else {
        o->finished = 1;
      }
      o = next;
    }
    pthread_cond_broadcast(&w->cv_done);
    pthread_mutex_unlock(&w->mu);
  }
  return NULL;
}

int hx_sqlw_open(const char *path, const char *schema_sql, int sync, hx_sqlw **out, hx_err *err) {
  hx_sqlw *w = calloc(1, sizeof *w);
  int rc;
  if (!w) return hx_err_set(err, HX_ENOMEM, "out of memory");
  w->sync = sync;
  w->path = strdup(path);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv_work, NULL);
  pthread_cond_init(&w->cv_done, NULL);
  pthread_mutex_init(&w->rmu, NULL);
  pthread_cond_init(&w->rcv, NULL);
  if ((rc = open_conn(path, 0, sync, &w->db, err))) goto fail;
  char *msg = NULL;
  if (schema_sql && sqlite3_exec(w->db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
    rc = hx_err_set(err, HX_EDB, "schema of %s: %s", path, msg ? msg : "?");
    sqlite3_free(msg);
    goto fail;
  }
  for (int i = 0; i < READERS; i++)
    if ((rc = open_conn(path, 1, sync, &w->readers[i], err))) goto fail;
  w->nreaders_free = READERS;
  if (pthread_create(&w->thread, NULL, writer_main, w)) {
    rc = hx_err_set(err, HX_ENOMEM, "cannot start writer thread");
    goto fail;
  }
  *out = w;
  return 0;
fail:
  for (int i = 0; i < READERS; i++) close_conn(w->readers[i]);
  close_conn(w->db);
  free(w->path);
  free(w);
  return rc;
}

void hx_sqlw_close(hx_sqlw *w) {
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  pthread_cond_broadcast(&w->cv_work);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  for (int i = 0; i < READERS; i++) close_conn(w->readers[i]);
  close_conn(w->db);
  free(w->path);
  free(w);
}

static int enqueue(hx_sqlw *w, op *o) {
  pthread_mutex_lock(&w->mu);
  if (w->stopping) {
    pthread_mutex_unlock(&w->mu);
    return HX_ESHUTDOWN;
  }
  if (w->tail) w->tail->next = o; else w->head = o;
  w->tail = o;
  pthread_cond_signal(&w->cv_work);
  pthread_mutex_unlock(&w->mu);
  return 0;
}

int hx_sqlw_run(hx_sqlw *w, hx_sqlw_fn fn, void *arg, hx_err *err) {
  hx_err local = {0};
  op o = {.fn = fn, .arg = arg, .err = err ? err : &local};
  int rc = enqueue(w, &o);
  if (rc) return hx_err_set(err, rc, "database is shutting down");
  pthread_mutex_lock(&w->mu);
  while (!o.finished) pthread_cond_wait(&w->cv_done, &w->mu);
  pthread_mutex_unlock(&w->mu);
  return o.rc;
}

int hx_sqlw_post(hx_sqlw *w, hx_sqlw_fn fn, void *arg, void (*done)(void *, int)) {
  op *o = calloc(1, sizeof *o);
  if (!o) return HX_ENOMEM;
  o->fn = fn;
  o->arg = arg;
  o->done = done;
  int rc = enqueue(w, o);
  if (rc) free(o);
  return rc;
}

sqlite3 *hx_sqlw_reader_get(hx_sqlw *w) {
  pthread_mutex_lock(&w->rmu);
  while (w->nreaders_free == 0) pthread_cond_wait(&w->rcv, &w->rmu);
  sqlite3 *db = w->readers[--w->nreaders_free];
  pthread_mutex_unlock(&w->rmu);
  return db;
}

void hx_sqlw_reader_put(hx_sqlw *w, sqlite3 *db) {
  pthread_mutex_lock(&w->rmu);
  w->readers[w->nreaders_free++] = db;
  pthread_cond_signal(&w->rcv);
  pthread_mutex_unlock(&w->rmu);
}

unsigned long hx_sqlw_commits(hx_sqlw *w) {
  pthread_mutex_lock(&w->mu);
  unsigned long c = w->commits;
  pthread_mutex_unlock(&w->mu);
  return c;
}
