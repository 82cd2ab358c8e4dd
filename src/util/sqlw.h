/*
 * sqlw.h - group commit for SQLite: one writer thread per database.
 *
 * Callers hand the writer small operations (a function applied inside the
 * writer's transaction). The writer drains everything queued, runs it in ONE
 * transaction (each op under its own SAVEPOINT, so a failing op rolls back
 * alone), commits (one fsync in WAL mode with synchronous=FULL) and then wakes
 * the waiting callers. Under load many requests share one fsync, which is what
 * makes durable acknowledgements cheap.
 */
#ifndef HX_UTIL_SQLW_H
#define HX_UTIL_SQLW_H

#include <sqlite3.h>

#include "util/err.h"

typedef struct hx_sqlw hx_sqlw;

/* Applied by the writer thread inside a transaction. Return 0 or HX_E*;
 * a non-zero return rolls back this op's statements only. */
typedef int (*hx_sqlw_fn)(sqlite3 *db, void *arg, hx_err *err);

/* Opens path (creating it), WAL mode, synchronous FULL (or NORMAL when !sync),
 * runs schema_sql once, and starts the writer thread. */
int hx_sqlw_open(const char *path, const char *schema_sql, int sync, hx_sqlw **out, hx_err *err);
void hx_sqlw_close(hx_sqlw *w);   /* drains queued ops, commits, joins; accepts NULL */

/* Run fn durably: returns after the transaction holding it has committed
 * (fn's rc, or the commit's error). */
int hx_sqlw_run(hx_sqlw *w, hx_sqlw_fn fn, void *arg, hx_err *err);

/* Queue fn without waiting; arg is passed to done(arg, rc) after commit
 * (done may be NULL), so the caller can free it there. */
int hx_sqlw_post(hx_sqlw *w, hx_sqlw_fn fn, void *arg, void (*done)(void *arg, int rc));

/* A read-only connection from a small pool (WAL readers never block the
 * writer). Return it with hx_sqlw_reader_put. */
sqlite3 *hx_sqlw_reader_get(hx_sqlw *w);
void hx_sqlw_reader_put(hx_sqlw *w, sqlite3 *db);

/* Called after every group commit with the database's file name (without
 * directory and ".db"), the number of operations in it and the seconds the
 * transaction took, e.g. to feed metrics. Set once at start; NULL = none. */
void hx_sqlw_set_observer(void (*fn)(const char *db, int ops, double seconds));

/* Bytes SQLite holds in this process (all databases: page caches,
 * prepared statements, schemas), for metrics. */
long long hx_sqlw_memory_bytes(void);

/* Number of transactions committed so far (for tests and metrics). */
unsigned long hx_sqlw_commits(hx_sqlw *w);

/* A prepared statement for sql on db, reused from the connection's own list
 * when one with the same text is idle (preparing costs more than running the
 * short statements of the ledger). Give it back with hx_sql_done, which
 * resets it and clears its bindings; the connection finalizes it at close. */
sqlite3_stmt *hx_sql_prep(sqlite3 *db, const char *sql, hx_err *err);
void hx_sql_done(sqlite3_stmt *st);   /* accepts NULL */
/* Run a parameterless statement (SAVEPOINT, RELEASE, ...) through the cache. */
int hx_sql_run(sqlite3 *db, const char *sql);
/* Turn the connection's last error into hx_err (HX_EDB). */
int hx_sql_err(sqlite3 *db, hx_err *err, const char *what);

#endif
