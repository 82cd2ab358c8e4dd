/*
 * worker.h - the outbox dispatcher and the worker threads.
 *
 * dispatcher: claims unsent outbox rows (batches of cfg->outbox_batch) every
 * OUTBOX_DISPATCH_INTERVAL_MS, or at once when poked after a create, and
 * pushes them onto the queue.
 * workers: pop batches from the queue, mark the jobs running, run the actor
 * (mock_embedding is batched: one vector upsert and one ledger commit for the
 * whole batch), and record the outcome. A failed attempt is retried with
 * exponential backoff and jitter (HEIMDEX_RETRY_MIN_MS..MAX_MS) until
 * max_attempts; validation errors are not retried.
 */
#ifndef HX_WORKER_WORKER_H
#define HX_WORKER_WORKER_H

#include "jobs/store.h"
#include "queue/queue.h"
#include "util/config.h"
#include "vstore/vstore.h"

typedef struct hx_dispatcher hx_dispatcher;
typedef struct hx_workers hx_workers;

int hx_dispatcher_start(const hx_config *cfg, hx_ledger *l, hx_queue *q, hx_dispatcher **out, hx_err *err);
void hx_dispatcher_poke(hx_dispatcher *d);   /* accepts NULL */
void hx_dispatcher_stop(hx_dispatcher *d);   /* accepts NULL */

struct hx_models;
int hx_workers_start(const hx_config *cfg, hx_ledger *l, hx_queue *q, hx_vstore *vs, struct hx_models *models,
                     int nthreads, hx_workers **out, hx_err *err);
void hx_workers_stop(hx_workers *w);         /* shuts the queue down, joins the threads; accepts NULL */

/* Delay before attempt `attempt + 1` after `attempt` failed attempts (ms, jittered). */
long hx_retry_delay_ms(const hx_config *cfg, int attempt);

#endif
