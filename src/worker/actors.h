/*
 * actors.h - the work a job's task_name names.
 *
 * An actor fills in the outcome of each run it is given. Batched actors get
 * every message of their kind that a worker popped at once, so a batch costs
 * one vector upsert and one ledger commit. A run whose failure is a property
 * of its input (validation) sets retryable = 0 and is never retried.
 */
#ifndef HX_WORKER_ACTORS_H
#define HX_WORKER_ACTORS_H

#include <stdatomic.h>

#include "jobs/store.h"
#include "util/config.h"
#include "vstore/vstore.h"
#include "worker/models.h"

#define HX_RUN_MAX_STEPS 8

typedef struct hx_actor_ctx {
  const hx_config *cfg;
  hx_ledger *ledger;
  hx_vstore *vs;
  const atomic_int *stopping;   /* set at shutdown: long actors stop early and set run->interrupted */
  hx_models *models;            /* embedding models */
} hx_actor_ctx;

typedef struct hx_run {
  hx_job_msg *msg;        /* borrowed */
  int attempt;            /* 1 for the first attempt */
  /* outcome */
  int ok;
  int retryable;
  int interrupted;        /* stopped by shutdown: no outcome is recorded, the job is resumed later */
  json_t *result;         /* owned */
  char error[512];
  hx_job_step steps[HX_RUN_MAX_STEPS];
  size_t nsteps;
  /* a quick actor's run on a ledger with peek(): not start()ed; its outcome
   * records the start too (see hx_job_outcome.direct) */
  int direct, prev_running, prev_attempt;
  double started_ts;
} hx_run;

typedef struct hx_actor {
  const char *name;
  int batched;
  void (*run)(hx_actor_ctx *ctx, hx_run *runs, size_t n);
  /* Optional: called once the run's terminal outcome (succeeded, or failed
   * without retry) is committed -- for clean-up that must not happen while
   * the job may still run again (e.g. deleting its uploaded file). */
  void (*ended)(hx_actor_ctx *ctx, const hx_run *run);
  /* Runs in milliseconds (no model, no I/O but one store call): where the
   * ledger has peek(), the job is not marked running first -- start and
   * outcome are written in one statement, a commit less per batch. */
  int quick;
} hx_actor;

const hx_actor *hx_actor_find(const char *task_name);

/* Defined in actors_embed.c. */
extern const hx_actor hx_actor_embed_text, hx_actor_embed_batch;
/* Defined in actors_asset.c. */
extern const hx_actor hx_actor_process_asset;

/* Helpers for actors. */
void hx_run_step(hx_run *r, const char *stage, int progress);
void hx_run_fail(hx_run *r, int retryable, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
