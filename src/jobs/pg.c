/*
 * pg.c - the production job ledger on PostgreSQL (libpq).
 *
 * Same contract as sqlite.c (see store.h), for many API and worker processes
 * at once:
 *  - create is one statement (CTEs: job ON CONFLICT (job_key) DO NOTHING, then
 *    its event and outbox row only if the job was inserted), so it is atomic
 *    and a racing duplicate waits on the unique index and then finds the
 *    winner's row: one job, never an error.
 *  - claim holds a transaction on the dispatcher's own connection with
 *    SELECT ... FOR UPDATE SKIP LOCKED, so several dispatchers never publish the
 *    same row; claimed() marks the rows sent (or counts the publish failure)
 *    and commits only after the queue has taken them.
 *  - PostgreSQL group-commits concurrent transactions itself.
 * Connections come from a small pool; a broken connection (server restarted)
 * is reset and the statement retried once, so a restarted PostgreSQL is used
 * again without restarting heimdex. Every connection has connect and
 * statement timeouts.
 */
#include "jobs/store.h"
#include "util/json.h"
#include "util/log.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POOL_MAX 16
/* the error code err already carries (HX_EUNAVAIL when the server is gone), else HX_EDB */
#define DBERR (err->code ? err->code : HX_EDB)

/* Migrations, applied in order by hx_ledger_migrate_pg; the version is kept in
 * heimdex_schema. Column names and types are the original's (job, job_event,
 * outbox); heimdex adds stage/progress/result/next_run_at to job. */
static const char *const MIGRATIONS[] = {
    /* 1 */
    "DO $$ BEGIN CREATE TYPE job_status AS ENUM ('queued','running','succeeded','failed','canceled','dead_letter');"
    " EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
    "DO $$ BEGIN CREATE TYPE job_backoff_policy AS ENUM ('none','fixed','exp');"
    " EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
    "CREATE TABLE IF NOT EXISTS job ("
    " id UUID PRIMARY KEY DEFAULT gen_random_uuid(),"
    " org_id UUID NOT NULL,"
    " type VARCHAR(100) NOT NULL,"
    " status job_status NOT NULL DEFAULT 'queued',"
    " attempt INTEGER NOT NULL DEFAULT 0,"
    " max_attempts INTEGER NOT NULL DEFAULT 5,"
    " backoff_policy job_backoff_policy NOT NULL DEFAULT 'exp',"
    " priority INTEGER NOT NULL DEFAULT 0,"
    " idempotency_key VARCHAR(255),"
    " job_key VARCHAR(64),"
    " requested_by VARCHAR(255),"
    " created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),"
    " updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),"
    " started_at TIMESTAMPTZ,"
    " finished_at TIMESTAMPTZ,"
    " last_error_code VARCHAR(64),"
    " last_error_message VARCHAR(2048),"
    " CONSTRAINT ck_job__status_finished_at_consistency CHECK ("
    "  ((status IN ('succeeded','failed','canceled','dead_letter')) AND finished_at IS NOT NULL) OR"
    "  ((status IN ('queued','running')) AND finished_at IS NULL)));"
    "ALTER TABLE job ADD COLUMN IF NOT EXISTS job_key VARCHAR(64);"
    "CREATE UNIQUE INDEX IF NOT EXISTS ix_job_job_key ON job(job_key);"
    "ALTER TABLE job ADD COLUMN IF NOT EXISTS stage VARCHAR(64);"
    "ALTER TABLE job ADD COLUMN IF NOT EXISTS progress INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE job ADD COLUMN IF NOT EXISTS result JSONB;"
    "ALTER TABLE job ADD COLUMN IF NOT EXISTS next_run_at TIMESTAMPTZ;"
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_job__org_id_idempotency_key ON job(org_id, idempotency_key)"
    " WHERE idempotency_key IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS idx_job__org_id_created_at_desc ON job(org_id, created_at DESC);"
    "CREATE INDEX IF NOT EXISTS idx_job__status_created_at ON job(status, created_at);"
    "CREATE TABLE IF NOT EXISTS job_event ("
    " id UUID PRIMARY KEY DEFAULT gen_random_uuid(),"
    " job_id UUID NOT NULL REFERENCES job(id) ON DELETE CASCADE,"
    " ts TIMESTAMPTZ NOT NULL DEFAULT NOW(),"
    " prev_status VARCHAR(50),"
    " next_status VARCHAR(50) NOT NULL,"
    " detail_json JSONB);"
    "CREATE INDEX IF NOT EXISTS idx_job_event__job_id_ts ON job_event(job_id, ts);"
    "CREATE INDEX IF NOT EXISTS idx_job_event__ts ON job_event(ts);"
    "CREATE TABLE IF NOT EXISTS outbox ("
    " id BIGSERIAL PRIMARY KEY,"
    " job_id UUID NOT NULL REFERENCES job(id) ON DELETE CASCADE,"
    " task_name VARCHAR(100) NOT NULL,"
    " payload JSONB NOT NULL,"
    " sent_at TIMESTAMPTZ,"
    " fail_count INTEGER NOT NULL DEFAULT 0,"
    " last_error VARCHAR(2048),"
    " created_at TIMESTAMPTZ NOT NULL DEFAULT NOW());"
    "CREATE INDEX IF NOT EXISTS idx_outbox_unsent ON outbox(created_at) WHERE sent_at IS NULL;"
    "CREATE INDEX IF NOT EXISTS ix_outbox_job_id ON outbox(job_id);",
    /* 2: uploaded documents (asset_put / asset_get / asset_done) */
    "CREATE TABLE IF NOT EXISTS asset ("
    " org_id UUID NOT NULL,"
    " asset_id TEXT NOT NULL,"
    " job_id UUID NOT NULL,"
    " status VARCHAR(16) NOT NULL CHECK (status IN ('queued','ready','failed')),"
    " source_type VARCHAR(16) NOT NULL DEFAULT '',"
    " filename VARCHAR(255) NOT NULL DEFAULT '',"
    " content_sha256 VARCHAR(64) NOT NULL DEFAULT '',"
    " bytes BIGINT NOT NULL DEFAULT 0,"
    " chunk_count BIGINT NOT NULL DEFAULT 0,"
    " model VARCHAR(64) NOT NULL DEFAULT '',"
    " model_ver VARCHAR(32) NOT NULL DEFAULT '',"
    " created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),"
    " updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),"
    " PRIMARY KEY (org_id, asset_id));",
};
#define NMIGRATIONS ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))


typedef struct {
  hx_ledger base;
  char *conninfo;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  PGconn *idle[POOL_MAX];
  int nidle, nopen;
  PGconn *claim_conn;       /* the dispatcher's, holding the claim transaction */
  /* creates waiting to be inserted together (see pg_create), under mu */
  struct create_req *cq_head, **cq_tail;
  int cq_leaders;
} pg_ledger;

#define PG(l) ((pg_ledger *)(l))

static PGconn *connect_one(pg_ledger *p, hx_err *err) {
  const char *keys[] = {"dbname", "connect_timeout", "options", "application_name", NULL};
  const char *vals[] = {p->conninfo, "5", "-c statement_timeout=15000 -c lock_timeout=10000", "heimdex", NULL};
  PGconn *c = PQconnectdbParams(keys, vals, 1);
  if (PQstatus(c) != CONNECTION_OK) {
    hx_err_set(err, HX_EUNAVAIL, "cannot connect to PostgreSQL: %s", PQerrorMessage(c));
    PQfinish(c);
    return NULL;
  }
  return c;
}

static PGconn *pool_get(pg_ledger *p, hx_err *err) {
  pthread_mutex_lock(&p->mu);
  while (p->nidle == 0 && p->nopen >= POOL_MAX) pthread_cond_wait(&p->cv, &p->mu);
  if (p->nidle) {
    PGconn *c = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->mu);
    return c;
  }
  p->nopen++;
  pthread_mutex_unlock(&p->mu);
  PGconn *c = connect_one(p, err);
  if (!c) {
    pthread_mutex_lock(&p->mu);
    p->nopen--;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
  }
  return c;
}

static void pool_put(pg_ledger *p, PGconn *c) {
  if (!c) return;
  pthread_mutex_lock(&p->mu);
  if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE) {
    p->idle[p->nidle++] = c;
  } else {
    PQfinish(c);
    p->nopen--;
  }
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

/* Run one statement with text parameters: by name (prepared on this
 * connection at its first use, so the server parses and plans it once per
 * connection instead of once per call) or, with name NULL, as unnamed text. A
 * dead connection (e.g. the server restarted) is reset and the statement
 * retried once when it was not inside an explicit transaction. Returns the
 * result (PGRES_TUPLES_OK / COMMAND_OK) or NULL with err set. */
static PGresult *qn(PGconn *c, hx_err *err, const char *name, const char *sql, int n, const char *const *vals) {
  for (int attempt = 0, resets = 0; attempt < 3; attempt++) {
    int in_txn = PQtransactionStatus(c) != PQTRANS_IDLE;
    PGresult *r = name ? PQexecPrepared(c, name, n, vals, NULL, NULL, 0) : PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return r;
    const char *st8 = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    char state[8] = "";
    if (st8) snprintf(state, sizeof state, "%s", st8);
    hx_err_set(err, HX_EDB, "PostgreSQL: %s%s%s", state, state[0] ? " " : "", PQerrorMessage(c));
    PQclear(r);
    /* 26000: not prepared on this connection yet (new, or reset) */
    if (name && !strcmp(state, "26000") && !in_txn) {
      r = PQprepare(c, name, sql, n, NULL);
      st = PQresultStatus(r);
      PQclear(r);
      if (st == PGRES_COMMAND_OK) continue;
      hx_err_set(err, HX_EDB, "PostgreSQL: cannot prepare %s: %s", name, PQerrorMessage(c));
    }
    if (PQstatus(c) == CONNECTION_BAD && !in_txn && resets++ == 0) {
      PQreset(c);
      if (PQstatus(c) == CONNECTION_OK) continue;
    }
    /* the server is gone or not serving (SQLSTATE classes 08 connection, 57
     * operator intervention e.g. shutting down / starting up, 53 resources):
     * unavailable, not a bad statement */
    if (PQstatus(c) == CONNECTION_BAD || (state[0] && (!strncmp(state, "08", 2) || !strncmp(state, "57", 2) ||
                                                    !strncmp(state, "53", 2))))
      err->code = HX_EUNAVAIL;
    return NULL;
  }
  return NULL;
}

static PGresult *q(PGconn *c, hx_err *err, const char *sql, int n, const char *const *vals) {
  return qn(c, err, NULL, sql, n, vals);
}

static int cmd_named(PGconn *c, hx_err *err, const char *name, const char *sql, int n, const char *const *vals) {
  PGresult *r = qn(c, err, name, sql, n, vals);
  if (!r) return err->code ? err->code : HX_EDB;
  PQclear(r);
  return 0;
}

static int cmd(PGconn *c, hx_err *err, const char *sql, int n, const char *const *vals) {
  return cmd_named(c, err, NULL, sql, n, vals);
}

/* ---- array parameters ---- */

/* A PostgreSQL array literal of text elements ("{...}", NULL for NULL): the
 * batch operations send one array per column instead of one statement per job. */
static void arr_add(hx_buf *b, const char *v) {
  hx_buf_adds(b, b->len > 1 ? "," : "");
  if (!v) {
    hx_buf_adds(b, "NULL");
    return;
  }
  hx_buf_add(b, "\"", 1);
  for (const char *p = v; *p; p++) {
    if (*p == '"' || *p == '\\') hx_buf_add(b, "\\", 1);
    hx_buf_add(b, p, 1);
  }
  hx_buf_add(b, "\"", 1);
}

static void arr_open(hx_buf *b) { hx_buf_init(b, (size_t)1 << 28); hx_buf_add(b, "{", 1); }
static const char *arr_close(hx_buf *b) { hx_buf_add(b, "}", 1); return b->data; }

/* ---- create ---- */

/* Creates are inserted in batches: a request joins the queue; when fewer than
 * CREATE_LEADERS batches are in flight, the thread becomes a leader, takes
 * every queued request (up to CREATE_BATCH) and inserts them with one
 * statement (one round trip, one transaction, one WAL flush), then wakes their
 * callers. Under load, concurrent requests share a statement and a commit;
 * alone, a request runs at once. Each caller still returns only after its job
 * is committed. */
#define CREATE_LEADERS 2
#define CREATE_BATCH 128
#define CREATE_PENDING 1   /* rc of a request not yet done (HX_E* codes are negative) */

typedef struct create_req {
  const hx_job_new *j;
  char *id_out;
  int *created;
  int rc, taken, done;   /* taken: in a leader's batch; done: its outcome is set */
  hx_err err;
  pthread_cond_t cv;     /* its caller waits here: woken alone, not with every other caller */
  struct create_req *next;
} create_req;

static void create_fail(create_req **reqs, size_t n, int rc, const hx_err *err) {
  for (size_t i = 0; i < n; i++)
    if (reqs[i]->rc == CREATE_PENDING) {
      reqs[i]->rc = rc;
      reqs[i]->err = *err;
    }
}

/* Insert reqs (those with rc CREATE_PENDING) in one statement, else find the
 * existing job of their job_key. A conflicting insert may roll back in between,
 * hence the few tries. A statement error that is not the server being away is
 * retried one request at a time, so one bad request fails alone. */
static void create_batch(pg_ledger *p, create_req **reqs, size_t n) {
  hx_err err = {0};
  PGconn *c = pool_get(p, &err);
  if (!c) {
    create_fail(reqs, n, err.code ? err.code : HX_EDB, &err);
    return;
  }
  for (int tries = 0; tries < 3; tries++) {
    size_t left = 0;
    for (size_t i = 0; i < n; i++) left += reqs[i]->rc == CREATE_PENDING;
    if (!left) {
      pool_put(p, c);
      return;
    }
    for (int find = 0; find < 2; find++) {
      hx_buf b[8];
      for (int k = 0; k < 8; k++) arr_open(&b[k]);
      size_t pending = 0;
      for (size_t i = 0; i < n; i++) {
        const hx_job_new *j = reqs[i]->j;
        if (reqs[i]->rc != CREATE_PENDING) continue;
        pending++;
        arr_add(&b[0], j->job_key);
        if (find) continue;
        char maxa[16], *payload = hx_json_compact(j->payload);
        snprintf(maxa, sizeof maxa, "%d", j->max_attempts);
        arr_add(&b[1], j->id); arr_add(&b[2], j->org_id); arr_add(&b[3], j->type); arr_add(&b[4], maxa);
        arr_add(&b[5], j->requested_by); arr_add(&b[6], j->task_name); arr_add(&b[7], payload);
        free(payload);
      }
      const char *v[8];
      for (int k = 0; k < 8; k++) v[k] = arr_close(&b[k]);
      PGresult *r = NULL;
      if (pending)
        r = find ? qn(c, &err, "hx_find", "SELECT id::text, job_key FROM job WHERE job_key = ANY($1::text[])", 1, v)
                 : qn(c, &err, "hx_create",
          "WITH r AS (SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::text[],"
          "   $7::text[], $8::text[]) WITH ORDINALITY AS r(job_key, id, org_id, type, max_attempts, requested_by, task,"
          "   payload, ord)),"
          " j AS (INSERT INTO job(id, org_id, type, status, max_attempts, job_key, requested_by)"
          "   SELECT id, org_id, type, 'queued', max_attempts, job_key, requested_by FROM r ORDER BY ord"
          "   ON CONFLICT (job_key) DO NOTHING RETURNING id, job_key),"
          " e AS (INSERT INTO job_event(job_id, prev_status, next_status) SELECT id, NULL, 'queued' FROM j),"
          " o AS (INSERT INTO outbox(job_id, task_name, payload)"
          "   SELECT r.id, r.task, r.payload::jsonb FROM r JOIN j ON j.id = r.id ORDER BY r.ord)"
          " SELECT id::text, job_key FROM j", 8, v);
      for (int k = 0; k < 8; k++) hx_buf_release(&b[k]);
      if (!pending) break;
      if (!r) {
        int rc = err.code ? err.code : HX_EDB;
        if (pending > 1 && rc != HX_EUNAVAIL) {
          pool_put(p, c);
          for (size_t i = 0; i < n; i++)
            if (reqs[i]->rc == CREATE_PENDING) create_batch(p, &reqs[i], 1);
          return;
        }
        create_fail(reqs, n, rc, &err);
        pool_put(p, c);
        return;
      }
      for (int k = 0; k < PQntuples(r); k++)
        for (size_t i = 0; i < n; i++) {
          create_req *q = reqs[i];
          if (q->rc != CREATE_PENDING || strcmp(q->j->job_key, PQgetvalue(r, k, 1))) continue;
          snprintf(q->id_out, HX_UUID_STRLEN + 1, "%s", PQgetvalue(r, k, 0));
          *q->created = !find && !strcasecmp(q->j->id, q->id_out);
          q->rc = 0;
        }
      PQclear(r);
    }
  }
  hx_err raced = {0};
  hx_err_set(&raced, HX_EDB, "job insert kept conflicting with a concurrent one");
  create_fail(reqs, n, HX_EDB, &raced);
  pool_put(p, c);
}

static int pg_create(hx_ledger *l, const hx_job_new *j, char id_out[HX_UUID_STRLEN + 1], int *created, hx_err *err) {
  pg_ledger *p = PG(l);
  create_req me = {.j = j, .id_out = id_out, .created = created, .rc = CREATE_PENDING};
  pthread_cond_init(&me.cv, NULL);
  pthread_mutex_lock(&p->mu);
  *p->cq_tail = &me;
  p->cq_tail = &me.next;
  while (!me.done) {
    if (me.taken || p->cq_leaders >= CREATE_LEADERS) {
      pthread_cond_wait(&me.cv, &p->mu);
      continue;
    }
    /* lead: take the queue from its head (me included, unless more than a
     * batch waits before me: then I lead again) */
    create_req *batch[CREATE_BATCH];
    size_t n = 0;
    while (p->cq_head && n < CREATE_BATCH) {
      batch[n] = p->cq_head;
      batch[n++]->taken = 1;
      p->cq_head = p->cq_head->next;
    }
    if (!p->cq_head) p->cq_tail = &p->cq_head;
    p->cq_leaders++;
    pthread_mutex_unlock(&p->mu);
    create_batch(p, batch, n);
    pthread_mutex_lock(&p->mu);
    p->cq_leaders--;
    /* wake exactly the callers of this batch (each leaves only after it
     * re-takes mu, so its cv outlives the signal) and, as a leader's place is
     * free, the first queued request, to lead the next batch */
    for (size_t i = 0; i < n; i++) {
      batch[i]->done = 1;
      pthread_cond_signal(&batch[i]->cv);
    }
    if (p->cq_head) pthread_cond_signal(&p->cq_head->cv);
  }
  pthread_mutex_unlock(&p->mu);
  pthread_cond_destroy(&me.cv);
  if (me.rc && err) *err = me.err;
  return me.rc;
}

/* ---- get ---- */

static int pg_get(hx_ledger *l, const char *job_id, hx_job_view *v, hx_err *err) {
  pg_ledger *p = PG(l);
  memset(v, 0, sizeof *v);
  PGconn *c = pool_get(p, err);
  if (!c) return DBERR;
  int rc = 0;
  PGresult *r = qn(c, err, "hx_get",
      "SELECT id::text, org_id::text, type, status::text, stage, progress, attempt, max_attempts, result::text,"
      " last_error_message, extract(epoch from created_at), extract(epoch from updated_at) FROM job WHERE id = $1::uuid",
      1, &job_id);
  if (!r) {
    rc = DBERR;
  } else if (PQntuples(r) == 0) {
    rc = hx_err_set(err, HX_ENOENT, "Job not found");
  } else {
    snprintf(v->id, sizeof v->id, "%s", PQgetvalue(r, 0, 0));
    snprintf(v->org_id, sizeof v->org_id, "%s", PQgetvalue(r, 0, 1));
    snprintf(v->type, sizeof v->type, "%s", PQgetvalue(r, 0, 2));
    snprintf(v->status, sizeof v->status, "%s", PQgetvalue(r, 0, 3));
    snprintf(v->stage, sizeof v->stage, "%s", PQgetvalue(r, 0, 4));
    v->progress = atoi(PQgetvalue(r, 0, 5));
    v->attempt = atoi(PQgetvalue(r, 0, 6));
    v->max_attempts = atoi(PQgetvalue(r, 0, 7));
    if (!PQgetisnull(r, 0, 8)) v->result = json_loads(PQgetvalue(r, 0, 8), 0, NULL);
    if (!PQgetisnull(r, 0, 9)) v->error = strdup(PQgetvalue(r, 0, 9));
    v->created_at = atof(PQgetvalue(r, 0, 10));
    v->updated_at = atof(PQgetvalue(r, 0, 11));
  }
  PQclear(r);
  pool_put(p, c);
  return rc;
}

/* ---- claim / claimed ---- */

static int pg_claim(hx_ledger *l, hx_job_msg *out, size_t max, size_t *n, hx_err *err) {
  pg_ledger *p = PG(l);
  *n = 0;
  if (!p->claim_conn && !(p->claim_conn = connect_one(p, err))) return DBERR;
  PGconn *c = p->claim_conn;
  if (PQstatus(c) != CONNECTION_OK) PQreset(c);
  if (cmd(c, err, "BEGIN", 0, NULL)) return DBERR;
  char lim[24];
  snprintf(lim, sizeof lim, "%zu", max);
  /* a row whose publish failed is retried for as long as it takes (a queue
   * outage must not strand jobs); the dispatcher's backoff is what is capped,
   * and fail_count / last_error show operators what happened */
  const char *v[1] = {lim};
  PGresult *r = q(c, err,
      "SELECT o.id, o.job_id::text, o.task_name, o.payload::text, COALESCE(extract(epoch from j.next_run_at), 0)"
      " FROM outbox o JOIN job j ON j.id = o.job_id WHERE o.sent_at IS NULL"
      " ORDER BY o.id LIMIT $1::int FOR UPDATE OF o SKIP LOCKED", 1, v);
  if (!r) {
    PQclear(PQexec(c, "ROLLBACK"));
    return DBERR;
  }
  for (int i = 0; i < PQntuples(r); i++) {
    hx_job_msg *m = &out[i];
    memset(m, 0, sizeof *m);
    m->outbox_id = atoll(PQgetvalue(r, i, 0));
    snprintf(m->job_id, sizeof m->job_id, "%s", PQgetvalue(r, i, 1));
    snprintf(m->task_name, sizeof m->task_name, "%s", PQgetvalue(r, i, 2));
    m->payload = json_loads(PQgetvalue(r, i, 3), 0, NULL);
    m->not_before = atof(PQgetvalue(r, i, 4));
  }
  *n = (size_t)PQntuples(r);
  PQclear(r);
  if (*n == 0) PQclear(PQexec(c, "COMMIT"));
  return 0;
}

/* "{id,id,...}" of msgs[from..to) for an ANY($1::bigint[]) parameter. Caller frees. */
static char *id_array(const hx_job_msg *msgs, size_t from, size_t to) {
  size_t cap = (to - from) * 24 + 4, o = 0;
  char *arr = malloc(cap);
  if (!arr) return NULL;
  arr[o++] = '{';
  for (size_t i = from; i < to; i++) o += (size_t)snprintf(arr + o, cap - o, "%s%lld", i > from ? "," : "", msgs[i].outbox_id);
  snprintf(arr + o, cap - o, "}");
  return arr;
}

static int pg_claimed(hx_ledger *l, const hx_job_msg *msgs, size_t n, size_t published, const char *error,
                      hx_err *err) {
  pg_ledger *p = PG(l);
  PGconn *c = p->claim_conn;
  if (!c || PQtransactionStatus(c) != PQTRANS_INTRANS || n == 0) return 0;
  int rc = 0;
  if (published) {
    char *arr = id_array(msgs, 0, published);
    const char *v[1] = {arr};
    /* the queue holds the message from now on (it re-delivers, reclaims and
     * dead-letters it): the row, with the raw request it carries, goes */
    rc = arr ? cmd(c, err, "DELETE FROM outbox WHERE id = ANY($1::bigint[])", 1, v) : HX_ENOMEM;
    free(arr);
  }
  if (!rc && published < n) {
    char *arr = id_array(msgs, published, n);
    const char *v[2] = {arr, error ? error : "publish failed"};
    rc = arr ? cmd(c, err, "UPDATE outbox SET fail_count = fail_count + 1, last_error = left($2, 2048)"
                           " WHERE id = ANY($1::bigint[])", 2, v) : HX_ENOMEM;
    free(arr);
  }
  if (rc == 0) rc = cmd(c, err, "COMMIT", 0, NULL);
  else PQclear(PQexec(c, "ROLLBACK"));
  return rc;
}

/* ---- start / progress / finish ---- */

static json_t *step_detail(const char *stage, int progress) {
  return json_pack("{s:s,s:i}", "stage", stage, "progress", progress);
}

/* start (write = 1) and peek (write = 0) of a batch, as one statement each.
 * Both send the ids and reclaimed flags as arrays and answer rows of (id,
 * attempt, was running): ok[i] = 1 for the jobs that may run. */
static int start_or_peek(hx_ledger *l, int write, const char *const *ids, const int *reclaimed, size_t n, int *ok,
                         int *attempt, int *running, hx_err *err) {
  pg_ledger *p = PG(l);
  for (size_t i = 0; i < n; i++) {
    ok[i] = 0;
    if (attempt) attempt[i] = 0;
    if (running) running[i] = 0;
  }
  if (n == 0) return 0;
  PGconn *c = pool_get(p, err);
  if (!c) return DBERR;
  hx_buf a_ids, a_rec;
  arr_open(&a_ids);
  arr_open(&a_rec);
  for (size_t i = 0; i < n; i++) {
    arr_add(&a_ids, ids[i]);
    arr_add(&a_rec, (reclaimed && reclaimed[i]) ? "t" : "f");
  }
  const char *v[2] = {arr_close(&a_ids), arr_close(&a_rec)};
  int rc = 0;
  /* start: prev is read without a lock; the UPDATE takes the row locks and,
   * when a row changed meanwhile (another worker started it), re-checks it
   * against the status and attempt read: only one of two racing starts wins.
   * peek writes nothing (no WAL, no commit flush): finish() with direct = 1
   * makes the same check and writes the start with the outcome. */
  PGresult *r = write ? qn(c, err, "hx_start",
      "WITH ids AS (SELECT * FROM unnest($1::uuid[], $2::bool[]) AS t(id, reclaimed)),"
      " prev AS (SELECT j.id, j.status, j.attempt FROM job j JOIN ids ON ids.id = j.id"
      "   WHERE j.status = 'queued' OR (j.status = 'running' AND ids.reclaimed)),"
      " upd AS (UPDATE job SET status = 'running', attempt = job.attempt + 1, started_at = COALESCE(started_at, NOW()),"
      "   updated_at = NOW(), stage = 'initializing', progress = 0, next_run_at = NULL"
      "   FROM prev WHERE job.id = prev.id AND job.status = prev.status AND job.attempt = prev.attempt"
      "   RETURNING job.id, job.attempt, prev.status::text AS status),"
      " ev AS (INSERT INTO job_event(job_id, ts, prev_status, next_status, detail_json)"
      "   SELECT id, clock_timestamp(), status, 'running', '{\"stage\":\"initializing\",\"progress\":0}'::jsonb FROM upd)"
      " SELECT id::text, attempt, status = 'running' FROM upd", 2, v)
    : qn(c, err, "hx_peek",
      "SELECT j.id::text, j.attempt, j.status = 'running' FROM job j"
      " JOIN unnest($1::uuid[], $2::bool[]) AS t(id, reclaimed) ON t.id = j.id"
      " WHERE j.status = 'queued' OR (j.status = 'running' AND t.reclaimed)", 2, v);
  if (!r) {
    rc = DBERR;
  } else {
    for (int k = 0; k < PQntuples(r); k++)
      for (size_t i = 0; i < n; i++)
        if (!ok[i] && !strcmp(ids[i], PQgetvalue(r, k, 0))) {
          ok[i] = 1;
          if (attempt) attempt[i] = atoi(PQgetvalue(r, k, 1));
          if (running) running[i] = PQgetvalue(r, k, 2)[0] == 't';
          break;
        }
    PQclear(r);
  }
  hx_buf_release(&a_ids);
  hx_buf_release(&a_rec);
  pool_put(p, c);
  return rc;
}

/* Mark the jobs that may start running and record their events. */
static int pg_start(hx_ledger *l, const char *const *ids, const int *reclaimed, size_t n, int *started, int *attempt,
                    hx_err *err) {
  return start_or_peek(l, 1, ids, reclaimed, n, started, attempt, NULL, err);
}

/* The read-only start (see store.h). */
static int pg_peek(hx_ledger *l, const char *const *ids, const int *reclaimed, size_t n, int *runnable, int *attempt,
                   int *running, hx_err *err) {
  return start_or_peek(l, 0, ids, reclaimed, n, runnable, attempt, running, err);
}

static int pg_progress(hx_ledger *l, const char *job_id, const char *stage, int progress) {
  pg_ledger *p = PG(l);
  hx_err err = {0};
  PGconn *c = pool_get(p, &err);
  if (!c) return HX_EDB;
  char pct[16];
  snprintf(pct, sizeof pct, "%d", progress);
  char *dj = NULL;
  json_t *d = step_detail(stage, progress);
  dj = hx_json_compact(d);
  json_decref(d);
  const char *v[4] = {job_id, stage, pct, dj};
  int rc = cmd(c, &err,
      "WITH u AS (UPDATE job SET stage = $2, progress = $3::int, updated_at = NOW()"
      "  WHERE id = $1::uuid AND status = 'running' RETURNING id)"
      " INSERT INTO job_event(job_id, ts, prev_status, next_status, detail_json)"
      " SELECT id, clock_timestamp(), 'running', 'running', $4::jsonb FROM u", 4, v);
  free(dj);
  pool_put(p, c);
  return rc;
}

/* One statement for the whole batch (no explicit transaction, so one round
 * trip and one commit): UPDATE every job still running to its outcome and
 * INSERT the step and outcome events of the jobs that UPDATE changed. A job no
 * longer running (finished by an earlier delivery) gets nothing. A direct
 * outcome (the job was peeked, not started) applies only while the job still
 * has the status and attempt peek() saw -- the check start() makes, so of two
 * racing deliveries one wins -- and records the start too. The outbox row is
 * long gone: it was deleted when the queue took the message. */
static int pg_finish(hx_ledger *l, const hx_job_outcome *o, size_t n, hx_err *err) {
  pg_ledger *p = PG(l);
  if (n == 0) return 0;
  PGconn *c = pool_get(p, err);
  if (!c) return DBERR;
#define NARR 13
  hx_buf b[NARR];
  for (size_t i = 0; i < NARR; i++) arr_open(&b[i]);
  hx_buf *a_id = &b[0], *a_kind = &b[1], *a_res = &b[2], *a_err = &b[3], *a_nb = &b[4];
  hx_buf *e_id = &b[5], *e_ts = &b[6], *e_prev = &b[7], *e_next = &b[8], *e_detail = &b[9];
  hx_buf *a_pst = &b[10], *a_patt = &b[11], *a_sts = &b[12];
  for (size_t i = 0; i < n; i++) {
    const hx_job_outcome *oc = &o[i];
    char ts[32], *res = oc->ok && oc->result ? hx_json_compact(oc->result) : NULL;
    snprintf(ts, sizeof ts, "%.6f", oc->not_before);
    arr_add(a_id, oc->job_id);
    arr_add(a_kind, oc->ok ? "ok" : oc->retry ? "retry" : "fail");
    arr_add(a_res, res);
    arr_add(a_err, oc->ok ? NULL : (oc->error ? oc->error : ""));
    arr_add(a_nb, ts);
    free(res);
    /* direct: prev_status and prev_attempt, else NULL (the job must be running) */
    snprintf(ts, sizeof ts, "%d", oc->prev_attempt);
    arr_add(a_pst, oc->direct ? oc->prev_status : NULL);
    arr_add(a_patt, oc->direct ? ts : NULL);
    snprintf(ts, sizeof ts, "%.6f", oc->started_ts);
    arr_add(a_sts, oc->direct ? ts : NULL);
    if (oc->direct) {
      arr_add(e_id, oc->job_id);
      arr_add(e_ts, ts);
      arr_add(e_prev, oc->prev_status);
      arr_add(e_next, "running");
      arr_add(e_detail, "{\"stage\":\"initializing\",\"progress\":0}");
    }
    for (size_t st = 0; st <= oc->nsteps; st++) {
      json_t *d = st < oc->nsteps ? step_detail(oc->steps[st].stage, oc->steps[st].progress)
                : oc->ok ? json_pack("{s:s,s:i,s:O?}", "stage", "completed", "progress", 100, "result", oc->result)
                : oc->retry ? json_pack("{s:s,s:s,s:f}", "stage", "retry_scheduled", "error", oc->error ? oc->error : "",
                                        "retry_at", oc->not_before)
                            : json_pack("{s:n,s:s}", "stage", "error", oc->error ? oc->error : "");
      char *dj = hx_json_compact(d);
      json_decref(d);
      snprintf(ts, sizeof ts, "%.6f", st < oc->nsteps ? oc->steps[st].ts : hx_now());
      arr_add(e_id, oc->job_id);
      arr_add(e_ts, ts);
      arr_add(e_prev, "running");
      arr_add(e_next, st < oc->nsteps ? "running" : oc->ok ? "succeeded" : oc->retry ? "queued" : "failed");
      arr_add(e_detail, dj);
      free(dj);
    }
  }
  const char *v[NARR];
  for (size_t i = 0; i < NARR; i++) v[i] = arr_close(&b[i]);
  int rc = cmd_named(c, err, "hx_finish",
      "WITH o AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $11::text[],"
      "   $12::int[], $13::text[]) AS o(id, kind, res, err, nb, pst, patt, sts)),"
      " upd AS (UPDATE job SET"
      "   status = (CASE o.kind WHEN 'ok' THEN 'succeeded' WHEN 'retry' THEN 'queued' ELSE 'failed' END)::job_status,"
      "   attempt = job.attempt + CASE WHEN o.pst IS NULL THEN 0 ELSE 1 END,"
      "   started_at = CASE WHEN o.pst IS NULL THEN job.started_at"
      "     ELSE COALESCE(job.started_at, to_timestamp(o.sts::double precision)) END,"
      "   stage = CASE WHEN o.kind = 'ok' THEN 'completed' WHEN o.pst IS NULL THEN job.stage ELSE 'initializing' END,"
      "   progress = CASE WHEN o.kind = 'ok' THEN 100 WHEN o.pst IS NULL THEN job.progress ELSE 0 END,"
      "   result = CASE o.kind WHEN 'ok' THEN o.res::jsonb ELSE job.result END,"
      "   last_error_code = CASE o.kind WHEN 'ok' THEN job.last_error_code ELSE o.kind END,"
      "   last_error_message = CASE o.kind WHEN 'ok' THEN job.last_error_message ELSE left(o.err, 2048) END,"
      "   updated_at = NOW(),"
      "   finished_at = CASE o.kind WHEN 'retry' THEN NULL ELSE NOW() END,"
      "   next_run_at = CASE o.kind WHEN 'retry' THEN to_timestamp(o.nb::double precision) ELSE NULL END"
      "   FROM o WHERE job.id = o.id AND CASE WHEN o.pst IS NULL THEN job.status = 'running'"
      "     ELSE job.status = o.pst::job_status AND job.attempt = o.patt END RETURNING job.id)"
      " INSERT INTO job_event(job_id, ts, prev_status, next_status, detail_json)"
      " SELECT e.id, to_timestamp(e.ts::double precision), e.prev, e.next, e.detail::jsonb"
      " FROM unnest($6::uuid[], $7::text[], $8::text[], $9::text[], $10::text[]) WITH ORDINALITY"
      "   AS e(id, ts, prev, next, detail, ord)"
      " WHERE e.id IN (SELECT id FROM upd) ORDER BY e.ord", NARR, v);
  for (size_t i = 0; i < NARR; i++) hx_buf_release(&b[i]);
#undef NARR
  pool_put(p, c);
  return rc;
}

/* ---- prune ---- */

static int pg_prune(hx_ledger *l, double older_than_s, size_t *deleted, hx_err *err) {
  pg_ledger *p = PG(l);
  *deleted = 0;
  PGconn *c = pool_get(p, err);
  if (!c) return DBERR;
  char secs[32];
  snprintf(secs, sizeof secs, "%.3f", older_than_s);
  const char *v[1] = {secs};
  PGresult *r = q(c, err,
      "DELETE FROM outbox o WHERE o.created_at < NOW() - make_interval(secs => $1::double precision)"
      " AND (o.sent_at IS NOT NULL OR EXISTS (SELECT 1 FROM job j WHERE j.id = o.job_id AND j.finished_at IS NOT NULL))",
      1, v);
  int rc = r ? 0 : DBERR;
  if (r) *deleted = (size_t)atoll(PQcmdTuples(r));
  PQclear(r);
  pool_put(p, c);
  return rc;
}

/* ---- recover / stats / close ---- */

static int pg_recover(hx_ledger *l, size_t *n, hx_err *err) {
  if (n) *n = 0; /* many processes share this ledger: the queue's reclaim re-delivers */
  return 0;
}

static int pg_stats(hx_ledger *l, hx_ledger_stats *out, hx_err *err) {
  pg_ledger *p = PG(l);
  PGconn *c = pool_get(p, err);
  if (!c) return DBERR;
  int rc = 0;
  PGresult *r = q(c, err, "SELECT (SELECT count(*) FROM outbox WHERE sent_at IS NULL),"
                          " (SELECT count(*) FROM job WHERE status IN ('queued','running')),"
                          " COALESCE(extract(epoch from NOW() - (SELECT min(created_at) FROM outbox WHERE sent_at IS NULL)), 0)",
                  0, NULL);
  if (!r) {
    rc = DBERR;
  } else {
    out->outbox_unsent = atoll(PQgetvalue(r, 0, 0));
    out->jobs_open = atoll(PQgetvalue(r, 0, 1));
    out->outbox_oldest_age_s = atof(PQgetvalue(r, 0, 2));
    PQclear(r);
  }
  pool_put(p, c);
  return rc;
}

static void pg_close(hx_ledger *l) {
  if (!l) return;
  pg_ledger *p = PG(l);
  for (int i = 0; i < p->nidle; i++) PQfinish(p->idle[i]);
  if (p->claim_conn) PQfinish(p->claim_conn);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p->conninfo);
  free(p);
}

/* ---- assets ---- */

static int pg_asset_cmd(hx_ledger *l, const char *sql, int n, const char *const *v, hx_err *err) {
  pg_ledger *p = PG(l);
  PGconn *c = pool_get(p, err);
  if (!c) return DBERR;
  int rc = cmd(c, err, sql, n, v);
  pool_put(p, c);
  return rc;
}

static int pg_asset_put(hx_ledger *l, const hx_asset_view *a, hx_err *err) {
  char bytes[24];
  snprintf(bytes, sizeof bytes, "%lld", a->bytes);
  const char *v[6] = {a->org_id, a->asset_id, a->job_id, a->filename, bytes, a->content_sha256};
  return pg_asset_cmd(l,
      "INSERT INTO asset(org_id, asset_id, job_id, status, filename, bytes, content_sha256) VALUES ($1::uuid, $2,"
      " $3::uuid, 'queued', $4, $5::bigint, $6) ON CONFLICT (org_id, asset_id) DO UPDATE SET job_id = excluded.job_id,"
      " status = 'queued', filename = excluded.filename, bytes = excluded.bytes,"
      " content_sha256 = excluded.content_sha256, updated_at = NOW()", 6, v, err);
}

static int pg_asset_done(hx_ledger *l, const hx_asset_view *a, hx_err *err) {
  char chunks[24];
  snprintf(chunks, sizeof chunks, "%lld", a->chunk_count);
  const char *v[8] = {a->status, a->source_type, chunks, a->model, a->model_ver, a->org_id, a->asset_id, a->job_id};
  if (strcmp(a->status, "ready")) {  /* a failed version leaves the stored chunks' description alone */
    const char *f[4] = {a->status, a->org_id, a->asset_id, a->job_id};
    return pg_asset_cmd(l, "UPDATE asset SET status = $1, updated_at = NOW() WHERE org_id = $2::uuid AND asset_id = $3"
                        " AND job_id = $4::uuid", 4, f, err);
  }
  return pg_asset_cmd(l,
      "UPDATE asset SET status = $1, source_type = $2, chunk_count = $3::bigint, model = $4, model_ver = $5,"
      " updated_at = NOW() WHERE org_id = $6::uuid AND asset_id = $7 AND job_id = $8::uuid", 8, v, err);
}

static int pg_asset_delete(hx_ledger *l, const char *org, const char *asset_id, int *deleted, hx_err *err) {
  pg_ledger *p = PG(l);
  PGconn *c = pool_get(p, err);
  if (!c) return DBERR;
  const char *v[2] = {org, asset_id};
  PGresult *r = q(c, err, "DELETE FROM asset WHERE org_id = $1::uuid AND asset_id = $2", 2, v);
  int rc = r ? 0 : DBERR;
  if (deleted) *deleted = r && atoi(PQcmdTuples(r)) > 0;
  PQclear(r);
  pool_put(p, c);
  return rc;
}

static int pg_asset_get(hx_ledger *l, const char *org, const char *asset_id, hx_asset_view *v, hx_err *err) {
  pg_ledger *p = PG(l);
  memset(v, 0, sizeof *v);
  PGconn *c = pool_get(p, err);
  if (!c) return DBERR;
  const char *args[2] = {org, asset_id};
  int rc = 0;
  PGresult *r = q(c, err,
      "SELECT org_id::text, asset_id, job_id::text, status, source_type, filename, bytes, chunk_count, model,"
      " model_ver, extract(epoch from created_at), extract(epoch from updated_at), content_sha256 FROM asset"
      " WHERE org_id = $1::uuid AND asset_id = $2", 2, args);
  if (!r) {
    rc = DBERR;
  } else if (PQntuples(r) == 0) {
    rc = hx_err_set(err, HX_ENOENT, "Asset not found");
  } else {
#define COL(i) PQgetvalue(r, 0, i)
    snprintf(v->org_id, sizeof v->org_id, "%s", COL(0));
    snprintf(v->asset_id, sizeof v->asset_id, "%s", COL(1));
    snprintf(v->job_id, sizeof v->job_id, "%s", COL(2));
    snprintf(v->status, sizeof v->status, "%s", COL(3));
    snprintf(v->source_type, sizeof v->source_type, "%s", COL(4));
    snprintf(v->filename, sizeof v->filename, "%s", COL(5));
    v->bytes = atoll(COL(6));
    v->chunk_count = atoll(COL(7));
    snprintf(v->model, sizeof v->model, "%s", COL(8));
    snprintf(v->model_ver, sizeof v->model_ver, "%s", COL(9));
    v->created_at = atof(COL(10));
    v->updated_at = atof(COL(11));
    snprintf(v->content_sha256, sizeof v->content_sha256, "%s", COL(12));
#undef COL
  }
  PQclear(r);
  pool_put(p, c);
  return rc;
}

static const hx_ledger_ops pg_ops = {
    .close = pg_close, .create = pg_create, .get = pg_get, .claim = pg_claim, .claimed = pg_claimed,
    .start = pg_start, .peek = pg_peek, .progress = pg_progress, .finish = pg_finish, .recover = pg_recover, .prune = pg_prune,
    .stats = pg_stats,
    .asset_put = pg_asset_put, .asset_get = pg_asset_get, .asset_done = pg_asset_done,
    .asset_delete = pg_asset_delete,
};

/* Current schema version, 0 when heimdex_schema does not exist yet. */
static int schema_version(PGconn *c, int *version, hx_err *err) {
  PGresult *r = q(c, err, "SELECT to_regclass('heimdex_schema') IS NOT NULL", 0, NULL);
  if (!r) return DBERR;
  int exists = PQgetvalue(r, 0, 0)[0] == 't';
  PQclear(r);
  *version = 0;
  if (!exists) return 0;
  r = q(c, err, "SELECT COALESCE(max(version), 0) FROM heimdex_schema", 0, NULL);
  if (!r) return DBERR;
  *version = atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  return 0;
}

int hx_ledger_migrate_pg(const char *conninfo, int *applied, hx_err *err) {
  pg_ledger tmp = {.conninfo = (char *)conninfo};
  PGconn *c = connect_one(&tmp, err);
  if (!c) return DBERR;
  int rc = cmd(c, err, "CREATE TABLE IF NOT EXISTS heimdex_schema (version INTEGER NOT NULL,"
                       " applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())", 0, NULL);
  /* one migrator at a time */
  if (!rc) rc = cmd(c, err, "SELECT pg_advisory_lock(746377)", 0, NULL);
  int version = 0;
  if (!rc) rc = schema_version(c, &version, err);
  *applied = 0;
  for (int m = version; !rc && m < NMIGRATIONS; m++) {
    char ver[16];
    snprintf(ver, sizeof ver, "%d", m + 1);
    const char *v[1] = {ver};
    rc = cmd(c, err, "BEGIN", 0, NULL);
    if (!rc) {
      PGresult *r = PQexec(c, MIGRATIONS[m]);
      if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = hx_err_set(err, HX_EDB, "migration %d failed: %s", m + 1, PQerrorMessage(c));
      PQclear(r);
    }
    if (!rc) rc = cmd(c, err, "INSERT INTO heimdex_schema(version) VALUES ($1::int)", 1, v);
    if (!rc) rc = cmd(c, err, "COMMIT", 0, NULL);
    else PQclear(PQexec(c, "ROLLBACK"));
    if (!rc) (*applied)++;
  }
  PQclear(PQexec(c, "SELECT pg_advisory_unlock(746377)"));
  PQfinish(c);
  return rc;
}

int hx_ledger_open_pg(const char *conninfo, hx_ledger **out, hx_err *err) {
  pg_ledger *p = calloc(1, sizeof *p);
  if (!p) return hx_err_set(err, HX_ENOMEM, "out of memory");
  p->base.ops = &pg_ops;
  p->conninfo = strdup(conninfo ? conninfo : "");
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  p->cq_tail = &p->cq_head;
  /* check the schema at start: a clear error beats failing on the first request */
  PGconn *c = pool_get(p, err);
  int version = 0, rc = DBERR;
  if (c) rc = schema_version(c, &version, err);
  pool_put(p, c);
  if (!rc && version < NMIGRATIONS)
    rc = hx_err_set(err, HX_ECONFIG, "PostgreSQL schema is at version %d, this heimdex needs %d: run `heimdex migrate`",
                    version, NMIGRATIONS);
  if (rc) {
    pg_close(&p->base);
    return rc;
  }
  *out = &p->base;
  return 0;
}
