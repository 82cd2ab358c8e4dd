/*
 * store.h - the job ledger: jobs, their events, and the transactional outbox.
 *
 * One interface, several backends (sqlite.c embedded, pg.c production): a
 * backend is a function table. Contract every backend keeps:
 *  - create() writes job + first job_event + outbox row in ONE durable
 *    transaction and is idempotent on job_key: concurrent identical requests
 *    all get the same job id, none fails.
 *  - status words are the original's enum: queued, running, succeeded,
 *    failed, canceled, dead_letter; finished_at is set iff terminal.
 *  - every transition appends a job_event with prev/next status and a
 *    detail_json {"stage","progress","result"?,"error"?}.
 *  - the raw request (outbox payload) is deleted when the job ends at the
 *    latest (PostgreSQL: as soon as the queue took it); prune() removes any
 *    row left behind once it is older than the retention period.
 */
#ifndef HX_JOBS_STORE_H
#define HX_JOBS_STORE_H

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"
#include "util/uuid.h"

typedef struct hx_ledger hx_ledger;

typedef struct hx_job_new {
  const char *id;           /* proposed id (caller-generated UUID); used only if the job is new */
  const char *org_id;       /* canonical UUID */
  const char *type;         /* job type, e.g. "mock_embedding" */
  const char *job_key;      /* 64 hex */
  const char *requested_by; /* user id */
  const char *task_name;    /* actor, e.g. "mock_embedding" */
  json_t *payload;          /* outbox payload (borrowed), already naming the proposed id */
  int max_attempts;
} hx_job_new;

typedef struct hx_job_view {
  char id[HX_UUID_STRLEN + 1];
  char org_id[HX_UUID_STRLEN + 1];
  char type[101];
  char status[16];          /* ledger status word */
  char stage[64];           /* "" = none */
  int progress;
  int attempt, max_attempts;
  json_t *result;           /* owned, NULL when none */
  char *error;              /* owned, NULL when none */
  double created_at, updated_at;
} hx_job_view;

void hx_job_view_release(hx_job_view *v);

/* A message for a worker: what the outbox row carries. */
typedef struct hx_job_msg {
  long long outbox_id;
  char qid[48];             /* the queue's own id of this delivery (for ack), "" in-process */
  int reclaimed;            /* delivered again because its previous consumer died */
  char job_id[HX_UUID_STRLEN + 1];
  char task_name[101];
  json_t *payload;          /* owned */
  double not_before;        /* epoch seconds: a retry waits until then */
} hx_job_msg;

void hx_job_msg_release(hx_job_msg *m);

/* One progress step recorded as an event (stage, progress). */
typedef struct hx_job_step { const char *stage; int progress; double ts; } hx_job_step;

/* Outcome of one attempt, applied in one transaction with its steps. */
typedef struct hx_job_outcome {
  const char *job_id;
  const hx_job_step *steps;   /* events recorded before the terminal one */
  size_t nsteps;
  int ok;                     /* 1 succeeded, 0 failed */
  json_t *result;             /* borrowed, on success */
  const char *error;          /* on failure */
  int retry;                  /* on failure: 1 = re-queue (not_before), 0 = terminal failed */
  double not_before;
  /* direct = 1: the job was peek()ed, not start()ed. The outcome applies only
   * while the job is still in prev_status ("queued", or "running" for a
   * reclaimed delivery) with attempt prev_attempt, and it records the start as
   * well (attempt+1, started_at, the "initializing"/0 event at started_ts), in
   * the same statement: one commit for the whole attempt. */
  int direct;
  const char *prev_status;
  int prev_attempt;
  double started_ts;
} hx_job_outcome;

typedef struct hx_ledger_stats {
  long long outbox_unsent;       /* outbox rows not yet published */
  double outbox_oldest_age_s;    /* age of the oldest of them, 0 when none */
  long long jobs_open;           /* queued or running */
} hx_ledger_stats;

/* An uploaded document (table asset, key (org_id, asset_id)). put() at upload
 * names the job that processes the latest version; done() records what that
 * job produced. chunk_count / model / model_ver describe the points in the
 * vector store, so a re-upload knows which old chunks to remove. */
#define HX_ASSET_ID_MAX 256
typedef struct hx_asset_view {
  char org_id[HX_UUID_STRLEN + 1];
  char asset_id[HX_ASSET_ID_MAX * 4 + 1];  /* UTF-8 */
  char job_id[HX_UUID_STRLEN + 1];
  char status[16];          /* "queued" at upload, then "ready" or "failed" */
  char source_type[16];     /* "" until extracted: pdf, docx, html, text, markdown, srt, vtt */
  char filename[256];
  char content_sha256[65];  /* of the latest upload */
  long long bytes;
  long long chunk_count;    /* chunks in the vector store */
  char model[64], model_ver[32];   /* "" while none */
  double created_at, updated_at;
} hx_asset_view;

typedef struct hx_ledger_ops {
  void (*close)(hx_ledger *l);
  int (*create)(hx_ledger *l, const hx_job_new *j, char id_out[HX_UUID_STRLEN + 1], int *created, hx_err *err);
  int (*get)(hx_ledger *l, const char *job_id, hx_job_view *out, hx_err *err);  /* HX_ENOENT */
  /* Up to max unsent outbox rows, oldest first, reserved for the caller until it
   * calls claimed() with the same rows: the first `published` of them are marked
   * sent, the rest are released (their publish failure counted with `error`).
   * Rows are marked sent only after the queue took them, so a crash in between
   * re-publishes (at-least-once) instead of losing. One dispatcher thread per
   * ledger handle. */
  int (*claim)(hx_ledger *l, hx_job_msg *out, size_t max, size_t *n, hx_err *err);
  int (*claimed)(hx_ledger *l, const hx_job_msg *msgs, size_t n, size_t published, const char *error, hx_err *err);
  /* For each job: if queued — or running and reclaimed[i] (its previous worker
   * died; reclaimed may be NULL) — mark running (attempt+1) with an
   * "initializing"/0 event. started[i] = 1 when it may run, 0 when it is
   * terminal, unknown or running elsewhere (skip it). */
  int (*start)(hx_ledger *l, const char *const *job_ids, const int *reclaimed, size_t n, int *started, int *attempt,
               hx_err *err);
  /* Optional (NULL when the backend has none): the read-only half of start()
   * for actors that run in milliseconds. For each job: runnable[i] = 1 when
   * start() would accept it (queued, or running and reclaimed[i]), with its
   * current attempt and running[i] = 1 if it is "running". Nothing is written:
   * the caller runs the actor and records start and outcome with one finish()
   * (direct = 1), which applies only if the job did not change meanwhile. A
   * terminal job is still never run again; the job is simply not seen
   * "running" while such an actor works. */
  int (*peek)(hx_ledger *l, const char *const *job_ids, const int *reclaimed, size_t n, int *runnable, int *attempt,
              int *running, hx_err *err);
  /* Record intermediate progress (best-effort, not waited for). */
  int (*progress)(hx_ledger *l, const char *job_id, const char *stage, int progress);
  int (*finish)(hx_ledger *l, const hx_job_outcome *o, size_t n, hx_err *err);
  /* At start of a single-process deployment (embedded): running jobs go back to
   * queued and unfinished jobs' outbox rows are made unsent again so the
   * dispatcher re-delivers them. Backends shared by many processes recover
   * through the queue's reclaim instead and do nothing here. */
  int (*recover)(hx_ledger *l, size_t *n, hx_err *err);
  /* Delete outbox rows created more than older_than_s seconds ago that no
   * delivery needs any more: rows of ended jobs and, where the queue keeps the
   * message once published (PostgreSQL + Redis), rows already sent. Unsent
   * rows of open jobs are never pruned. The dispatcher calls it periodically
   * with HEIMDEX_OUTBOX_RETENTION_SEC. */
  int (*prune)(hx_ledger *l, double older_than_s, size_t *deleted, hx_err *err);
  /* Counts for /readyz and /metrics. */
  int (*stats)(hx_ledger *l, hx_ledger_stats *out, hx_err *err);
  /* Assets. put: insert or point an existing record at a new upload (job_id,
   * filename, content_sha256, bytes, status "queued"; chunk_count, model,
   * source_type kept).
   * get: HX_ENOENT when the org has no such asset. done: status "ready" sets
   * status, source_type, chunk_count, model, model_ver; any other status only
   * the status (the store still holds the previous chunks) -- and only while
   * the record still names a->job_id (a newer upload wins). */
  int (*asset_put)(hx_ledger *l, const hx_asset_view *a, hx_err *err);
  int (*asset_get)(hx_ledger *l, const char *org_id, const char *asset_id, hx_asset_view *out, hx_err *err);
  int (*asset_done)(hx_ledger *l, const hx_asset_view *a, hx_err *err);
  /* Forget an asset (its points are deleted by the caller, e.g. DELETE
   * /vectors/asset/{asset_id}); *deleted = 0 when there was none. */
  int (*asset_delete)(hx_ledger *l, const char *org_id, const char *asset_id, int *deleted, hx_err *err);
} hx_ledger_ops;

struct hx_ledger { const hx_ledger_ops *ops; };

/* Backends. */
int hx_ledger_open_sqlite(const char *path, int sync, hx_ledger **out, hx_err *err);
/* conninfo: a libpq connection string or URL (DATABASE_URL); "" uses the PG*
 * environment variables. Fails with HX_ECONFIG when the schema is not migrated. */
int hx_ledger_open_pg(const char *conninfo, hx_ledger **out, hx_err *err);
/* Apply pending migrations (idempotent, serialised by an advisory lock). */
int hx_ledger_migrate_pg(const char *conninfo, int *applied, hx_err *err);

static inline void hx_ledger_close(hx_ledger *l) { if (l) l->ops->close(l); }

/* Map a ledger status to the original API's word (pending, processing, ...). */
const char *hx_job_status_api(const char *ledger_status);
int hx_job_status_terminal(const char *ledger_status);

#endif
