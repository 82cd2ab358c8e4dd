/* sqlw.c - SQLite writer thread with group commit and a reader pool. */
#include "util/sqlw.h"
#include "util/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
  char name[64];            /* file name without directory and ".db", for observers */
  pthread_t thread;
  pthread_t ckpt_thread;
  sqlite3 *ckpt_db;         /* the checkpointer's own connection */
  int ckpt_started;
  pthread_mutex_t mu;
  pthread_cond_t cv_work, cv_done, cv_ckpt;
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

int hx_sql_run(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = hx_sql_prep(db, sql, NULL);
  if (!st) return HX_EDB;
  int rc = sqlite3_step(st);
  hx_sql_done(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : HX_EDB;
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
  /* The writer does not checkpoint itself (wal_autocheckpoint=0): a
   * checkpointer thread does, so commits never wait for the copy into the
   * main file. */
  const char *pragmas = readonly ? "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384;"
                        : sync ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;"
                                 " PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=0;"
                               : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;"
                                 " PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=0;";
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

static void (*g_observer)(const char *, int, double);

void hx_sqlw_set_observer(void (*fn)(const char *db, int ops, double seconds)) { g_observer = fn; }

static void *writer_main(void *p) {
  hx_sqlw *w = p;
  pthread_setname_np(pthread_self(), "hx-sqlw");
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
    double t0 = hx_mono();
    if (hx_sql_run(w->db, "BEGIN IMMEDIATE"))
      crc = hx_sql_err(w->db, &cerr, "begin");
    for (op *o = batch; o; o = o->next) {
      if (crc) { o->rc = crc; continue; }
      hx_sql_run(w->db, "SAVEPOINT op");
      hx_err local = {0};
      o->rc = o->fn(w->db, o->arg, o->err ? o->err : &local);
      if (o->rc) hx_sql_run(w->db, "ROLLBACK TO op");
      hx_sql_run(w->db, "RELEASE op");
      if (o->rc && !o->err && o->rc != HX_ENOENT && o->rc != HX_ESTATE)
        hx_log(HX_LOG_WARN, "db_op_failed", json_pack("{s:s}", "error", local.msg));
    }
    if (!crc && hx_sql_run(w->db, "COMMIT")) {
      crc = hx_sql_err(w->db, &cerr, "commit");
      hx_sql_run(w->db, "ROLLBACK");
    }
    if (crc) hx_log(HX_LOG_ERROR, "db_commit_failed", json_pack("{s:s}", "error", cerr.msg));
    if (g_observer) g_observer(w->name, n, hx_mono() - t0);

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

/* Copies committed WAL frames into the main file off the commit path. PASSIVE
 * checkpoints never block the writer; when the WAL has grown past 64 MiB (a
 * reader pinned old frames under sustained load) a RESTART checkpoint lets it
 * start over. */
static void *ckpt_main(void *p) {
  hx_sqlw *w = p;
  pthread_setname_np(pthread_self(), "hx-ckpt");
  for (;;) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 100 * 1000000L;
    if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&w->mu);
    if (!w->stopping) pthread_cond_timedwait(&w->cv_ckpt, &w->mu, &until);
    int stop = w->stopping;
    pthread_mutex_unlock(&w->mu);
    int log_frames = 0, done = 0;
    sqlite3_wal_checkpoint_v2(w->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done);
    if (log_frames > 16384)  /* 64 MiB of 4 KiB pages */
      sqlite3_wal_checkpoint_v2(w->ckpt_db, NULL, SQLITE_CHECKPOINT_RESTART, &log_frames, &done);
    if (stop) break;
  }
  return NULL;
}

int hx_sqlw_open(const char *path, const char *schema_sql, int sync, hx_sqlw **out, hx_err *err) {
  hx_sqlw *w = calloc(1, sizeof *w);
  int rc;
  if (!w) return hx_err_set(err, HX_ENOMEM, "out of memory");
  w->sync = sync;
  w->path = strdup(path);
  const char *base = strrchr(path, '/');
  snprintf(w->name, sizeof w->name, "%s", base ? base + 1 : path);
  char *dot = strstr(w->name, ".db");
  if (dot) *dot = '\0';
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv_work, NULL);
  pthread_cond_init(&w->cv_done, NULL);
  pthread_cond_init(&w->cv_ckpt, NULL);
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
  if ((rc = open_conn(path, 0, sync, &w->ckpt_db, err))) goto fail;
  if (pthread_create(&w->ckpt_thread, NULL, ckpt_main, w)) {
    rc = hx_err_set(err, HX_ENOMEM, "cannot start checkpoint thread");
    goto fail;
  }
  w->ckpt_started = 1;
  if (pthread_create(&w->thread, NULL, writer_main, w)) {
    rc = hx_err_set(err, HX_ENOMEM, "cannot start writer thread");
    goto fail;
  }
  *out = w;
  return 0;
fail:
  if (w->ckpt_started) {
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv_ckpt);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->ckpt_thread, NULL);
  }
  close_conn(w->ckpt_db);
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
  pthread_mutex_lock(&w->mu);
  pthread_cond_broadcast(&w->cv_ckpt);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->ckpt_thread, NULL);  /* its last pass runs after the final commit */
  close_conn(w->ckpt_db);
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

long long hx_sqlw_memory_bytes(void) {
  sqlite3_int64 cur = 0, hi = 0;
  return sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &cur, &hi, 0) == SQLITE_OK ? (long long)cur : 0;
}
