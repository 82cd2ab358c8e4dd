/* workers.c - worker threads: pop a batch, start, run actors, record outcomes. */
#include "worker/actors.h"
#include "worker/worker.h"
#include "obs/metrics.h"
#include "util/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define BATCH 64

struct hx_workers {
  hx_actor_ctx ctx;
  hx_queue *queue;
  int n;
  pthread_t *threads;
  atomic_int stopping;
};

long hx_retry_delay_ms(const hx_config *cfg, int attempt) {
  double d = cfg->retry_min_ms;
  for (int i = 1; i < attempt && d < cfg->retry_max_ms; i++) d *= 2;
  uint32_t r = 0;
  if (getrandom(&r, sizeof r, 0) != sizeof r) r = 0x80000000u;
  d *= 0.8 + 0.4 * ((double)r / 4294967295.0);   /* ±20% jitter */
  if (d < cfg->retry_min_ms) d = cfg->retry_min_ms;
  if (d > cfg->retry_max_ms) d = cfg->retry_max_ms;
  return (long)d;
}

/* Record outcomes of runs[0..n), re-queue the retries, dead-letter the final
 * failures and ack the deliveries. Interrupted runs (shutdown) record nothing
 * and are not acked: they run again later. */
static void record(hx_workers *w, hx_run *all, size_t nall) {
  hx_run **runs = calloc(nall ? nall : 1, sizeof *runs);
  hx_job_outcome *oc = calloc(nall ? nall : 1, sizeof *oc);
  hx_job_msg *acks = calloc(nall ? nall : 1, sizeof *acks);
  size_t n = 0;
  if (!runs || !oc || !acks) goto out; /* jobs stay running: recovered at restart / reclaimed */
  for (size_t i = 0; i < nall; i++) {
    hx_run *r = &all[i];
    if (r->interrupted) continue;
    int retry = !r->ok && r->retryable && r->attempt < w->ctx.cfg->job_max_retries + 1;
    oc[n] = (hx_job_outcome){.job_id = r->msg->job_id, .steps = r->steps, .nsteps = r->nsteps, .ok = r->ok,
                             .result = r->result, .error = r->ok ? NULL : r->error, .retry = retry,
                             .direct = r->direct, .prev_status = r->prev_running ? "running" : "queued",
                             .prev_attempt = r->prev_attempt, .started_ts = r->started_ts};
    if (retry) oc[n].not_before = hx_now() + hx_retry_delay_ms(w->ctx.cfg, r->attempt) / 1000.0;
    runs[n++] = r;
  }
  if (n == 0) goto out;
  hx_err err = {0};
  if (w->ctx.ledger->ops->finish(w->ctx.ledger, oc, n, &err)) {
    /* the outcome is not recorded (ledger down): the deliveries go back to the
     * queue and run again later; effects are idempotent */
    hx_log(HX_LOG_ERROR, "job_finish_failed", json_pack("{s:s,s:I}", "error", err.msg, "jobs", (json_int_t)n));
    for (size_t i = 0; i < n; i++) w->queue->ops->nack(w->queue, runs[i]->msg, 1);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    hx_run *r = runs[i];
    json_t *f = json_pack("{s:s,s:s,s:i}", "job_id", r->msg->job_id, "task", r->msg->task_name, "attempt", r->attempt);
    hx_metrics_job(r->msg->task_name, r->ok ? "succeeded" : oc[i].retry ? "retried" : "failed");
    if (r->ok) {
      hx_log(HX_LOG_DEBUG, "job_completed", f);
    } else {
      json_object_set_new(f, "error", json_string(r->error));
      json_object_set_new(f, "retry", json_boolean(oc[i].retry));
      hx_log(oc[i].retry ? HX_LOG_WARN : HX_LOG_ERROR, oc[i].retry ? "job_retry_scheduled" : "job_failed", f);
    }
    if (oc[i].retry) {
      hx_job_msg again = *r->msg;
      again.not_before = oc[i].not_before;
      again.reclaimed = 0;
      hx_err perr = {0};
      if (w->queue->ops->push(w->queue, &again, &perr))
        hx_log(HX_LOG_ERROR, "retry_publish_failed", json_pack("{s:s,s:s}", "job_id", r->msg->job_id, "error", perr.msg));
    } else if (!r->ok) {
      hx_metrics_dead_letter(r->msg->task_name);
      w->queue->ops->dead(w->queue, r->msg, r->error);
    }
    acks[i] = *r->msg;   /* shallow: ack reads the delivery id only */
    const hx_actor *a = oc[i].retry ? NULL : hx_actor_find(r->msg->task_name);
    if (a && a->ended) a->ended(&w->ctx, r);
  }
  /* effects and outcomes are committed: the deliveries can go, in one call */
  w->queue->ops->ack(w->queue, acks, n);
out:
  free(runs);
  free(oc);
  free(acks);
}

/* start() the jobs of msgs (or, for quick actors on a ledger with peek(),
 * only peek() them: direct[i] = 1). started[i] = 1 when the job may run. */
static int start_batch(hx_workers *w, hx_job_msg *msgs, size_t n, int *started, int *attempt, int *direct,
                       int *running, hx_err *err) {
  const hx_ledger_ops *ops = w->ctx.ledger->ops;
  const char *ids[2][BATCH];
  int reclaimed[2][BATCH], st[2][BATCH], att[2][BATCH], run[BATCH];
  size_t cnt[2] = {0, 0}, at[BATCH];
  for (size_t i = 0; i < n; i++) {
    const hx_actor *a = hx_actor_find(msgs[i].task_name);
    int d = direct[i] = ops->peek && a && a->quick;
    at[i] = cnt[d];
    ids[d][cnt[d]] = msgs[i].job_id;
    reclaimed[d][cnt[d]++] = msgs[i].reclaimed;
    running[i] = 0;
  }
  int rc = 0;
  if (cnt[0] && (rc = ops->start(w->ctx.ledger, ids[0], reclaimed[0], cnt[0], st[0], att[0], err))) return rc;
  if (cnt[1] && (rc = ops->peek(w->ctx.ledger, ids[1], reclaimed[1], cnt[1], st[1], att[1], run, err))) return rc;
  for (size_t i = 0; i < n; i++) {
    started[i] = st[direct[i]][at[i]];
    attempt[i] = att[direct[i]][at[i]];
    if (direct[i]) running[i] = run[at[i]];
    /* peek() does not reserve: the same job twice in one batch runs once */
    for (size_t k = 0; direct[i] && started[i] && k < i; k++)
      if (started[k] && !strcmp(msgs[k].job_id, msgs[i].job_id)) started[i] = 0;
  }
  return 0;
}

static void run_batch(hx_workers *w, hx_job_msg *msgs, size_t n) {
  int started[BATCH], attempt[BATCH], direct[BATCH], running[BATCH];
  hx_err err = {0};
  double t_start = hx_now();
  if (start_batch(w, msgs, n, started, attempt, direct, running, &err)) {
    /* could not mark them running: hand them back after a pause (not acked:
     * a queue with reclaim would also re-deliver them) */
    hx_log(HX_LOG_ERROR, "job_start_failed", json_pack("{s:s}", "error", err.msg));
    w->queue->ops->nack(w->queue, msgs, n);
    for (size_t i = 0; i < n; i++) hx_job_msg_release(&msgs[i]);
    return;
  }
  /* terminal, unknown or running elsewhere: nothing to do for these deliveries */
  hx_job_msg skip[BATCH];
  size_t nskip = 0;
  for (size_t i = 0; i < n; i++)
    if (!started[i]) skip[nskip++] = msgs[i];   /* shallow: ack reads the delivery id only */
  if (nskip) w->queue->ops->ack(w->queue, skip, nskip);
  hx_run runs[BATCH];
  size_t nr = 0;
  for (size_t i = 0; i < n; i++) {
    if (!started[i]) continue; /* terminal or already running elsewhere: effects are done/underway */
    memset(&runs[nr], 0, sizeof runs[nr]);
    runs[nr].msg = &msgs[i];
    /* a direct run's attempt is the one its outcome will record */
    runs[nr].attempt = attempt[i] + direct[i];
    runs[nr].direct = direct[i];
    runs[nr].prev_running = running[i];
    runs[nr].prev_attempt = attempt[i];
    runs[nr].started_ts = t_start;
    nr++;
  }
  /* batched actors first (fast), then the one-by-one ones */
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < nr;) {
      const hx_actor *a = hx_actor_find(runs[i].msg->task_name);
      if ((a && a->batched) != (pass == 0)) { i++; continue; }
      if (!a) {
        hx_run_fail(&runs[i], 0, "Unknown task: %s", runs[i].msg->task_name);
        record(w, &runs[i], 1);
        i++;
        continue;
      }
      /* group consecutive runs of the same actor */
      size_t j = i + 1;
      if (a->batched) {
        /* move all runs of this actor next to i */
        for (size_t k = i + 1; k < nr; k++)
          if (hx_actor_find(runs[k].msg->task_name) == a) {
            hx_run t = runs[j]; runs[j] = runs[k]; runs[k] = t; j++;
          }
      }
      a->run(&w->ctx, &runs[i], j - i);
      record(w, &runs[i], j - i);
      i = j;
    }
  }
  for (size_t i = 0; i < nr; i++) json_decref(runs[i].result);
  for (size_t i = 0; i < n; i++) hx_job_msg_release(&msgs[i]);
}

static void *worker_main(void *p) {
  hx_workers *w = p;
  pthread_setname_np(pthread_self(), "hx-worker");
  hx_job_msg msgs[BATCH];
  while (!atomic_load(&w->stopping)) {
    size_t n = w->queue->ops->pop(w->queue, msgs, (size_t)w->ctx.cfg->worker_batch, 1000);
    if (n) run_batch(w, msgs, n);
  }
  return NULL;
}

int hx_workers_start(const hx_config *cfg, hx_ledger *l, hx_queue *q, hx_vstore *vs, hx_models *models,
                     int nthreads, hx_workers **out, hx_err *err) {
  hx_workers *w = calloc(1, sizeof *w);
  if (!w) return hx_err_set(err, HX_ENOMEM, "out of memory");
  w->ctx = (hx_actor_ctx){cfg, l, vs, &w->stopping, models};
  w->queue = q;
  w->threads = calloc((size_t)nthreads, sizeof *w->threads);
  for (int i = 0; i < nthreads; i++) {
    if (pthread_create(&w->threads[i], NULL, worker_main, w)) {
      hx_workers_stop(w);
      return hx_err_set(err, HX_ENOMEM, "cannot start worker thread %d", i);
    }
    w->n++;
  }
  *out = w;
  return 0;
}

void hx_workers_stop(hx_workers *w) {
  if (!w) return;
  atomic_store(&w->stopping, 1);
  w->queue->ops->shutdown(w->queue);
  for (int i = 0; i < w->n; i++) pthread_join(w->threads[i], NULL);
  free(w->threads);
  free(w);
}
