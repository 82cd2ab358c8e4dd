/* dispatcher.c - outbox -> queue. */
#include "worker/worker.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct hx_dispatcher {
  const hx_config *cfg;
  hx_ledger *ledger;
  hx_queue *queue;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int poked, stopping;
};

static void wait_interval(hx_dispatcher *d, int ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
  pthread_mutex_lock(&d->mu);
  while (!d->poked && !d->stopping)
    if (pthread_cond_timedwait(&d->cv, &d->mu, &until) == ETIMEDOUT) break;
  d->poked = 0;
  pthread_mutex_unlock(&d->mu);
}

/* Outbox rows no delivery needs any more go once older than the retention
 * period; checked every retention period, at most every minute. */
static void prune_due(hx_dispatcher *d, double *next) {
  double now = hx_now(), ret = d->cfg->outbox_retention_sec;
  if (now < *next) return;
  *next = now + (ret < 1 ? 1 : ret > 60 ? 60 : ret);
  size_t n = 0;
  hx_err err = {0};
  if (d->ledger->ops->prune(d->ledger, ret, &n, &err))
    hx_log(HX_LOG_WARN, "outbox_prune_failed", json_pack("{s:s}", "error", err.msg));
  else if (n)
    hx_log(HX_LOG_INFO, "outbox_pruned", json_pack("{s:I,s:i}", "rows", (json_int_t)n, "retention_sec",
                                                   d->cfg->outbox_retention_sec));
}

static void *dispatch_main(void *p) {
  hx_dispatcher *d = p;
  pthread_setname_np(pthread_self(), "hx-dispatch");
  size_t max = (size_t)d->cfg->outbox_batch;
  hx_job_msg *msgs = calloc(max, sizeof *msgs);
  int failures = 0;
  double next_prune = 0;
  for (;;) {
    pthread_mutex_lock(&d->mu);
    int stop = d->stopping;
    pthread_mutex_unlock(&d->mu);
    if (stop) break;
    prune_due(d, &next_prune);
    size_t n = 0;
    hx_err err = {0};
    if (d->ledger->ops->claim(d->ledger, msgs, max, &n, &err)) {
      failures++;
      hx_log(HX_LOG_ERROR, "outbox_claim_failed", json_pack("{s:s,s:i}", "error", err.msg, "failures", failures));
      int backoff = d->cfg->outbox_interval_ms << (failures < 6 ? failures : 6);
      wait_interval(d, backoff > 30000 ? 30000 : backoff);
      continue;
    }
    /* publish in order; stop at the first refusal and hand the rest back */
    size_t sent = 0;
    hx_err perr = {0};
    if (d->queue->ops->publish) d->queue->ops->publish(d->queue, msgs, n, &sent, &perr);
    else while (sent < n && d->queue->ops->push(d->queue, &msgs[sent], &perr) == 0) sent++;
    if (d->ledger->ops->claimed(d->ledger, msgs, n, sent, perr.msg, &err))
      hx_log(HX_LOG_ERROR, "outbox_mark_failed", json_pack("{s:s}", "error", err.msg)); /* re-published later */
    if (sent < n) {
      failures++;
      hx_log(HX_LOG_ERROR, "queue_publish_failed", json_pack("{s:s,s:i}", "error", perr.msg, "failures", failures));
    } else {
      failures = 0;
    }
    for (size_t i = 0; i < n; i++) hx_job_msg_release(&msgs[i]);
    if (failures) {
      int backoff = d->cfg->outbox_interval_ms << (failures < 6 ? failures : 6);
      wait_interval(d, backoff > 30000 ? 30000 : backoff);
    } else if (n < max) {
      wait_interval(d, d->cfg->outbox_interval_ms);
    }
  }
  free(msgs);
  return NULL;
}

int hx_dispatcher_start(const hx_config *cfg, hx_ledger *l, hx_queue *q, hx_dispatcher **out, hx_err *err) {
  hx_dispatcher *d = calloc(1, sizeof *d);
  if (!d) return hx_err_set(err, HX_ENOMEM, "out of memory");
  d->cfg = cfg;
  d->ledger = l;
  d->queue = q;
  pthread_mutex_init(&d->mu, NULL);
  pthread_cond_init(&d->cv, NULL);
  if (pthread_create(&d->thread, NULL, dispatch_main, d)) {
    free(d);
    return hx_err_set(err, HX_ENOMEM, "cannot start dispatcher thread");
  }
  *out = d;
  return 0;
}

void hx_dispatcher_poke(hx_dispatcher *d) {
  if (!d) return;
  pthread_mutex_lock(&d->mu);
  d->poked = 1;
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
}

void hx_dispatcher_stop(hx_dispatcher *d) {
  if (!d) return;
  pthread_mutex_lock(&d->mu);
  d->stopping = 1;
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
  pthread_join(d->thread, NULL);
  free(d);
}
