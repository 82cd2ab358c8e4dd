/*
 * inproc.c - the embedded queue: a FIFO of ready messages plus a min-heap of
 * delayed ones (keyed by not_before), under one mutex.
 */
#include "queue/queue.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  hx_queue base;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  hx_job_msg *ring;   /* ready FIFO */
  size_t cap, head, len;
  hx_job_msg *heap;   /* delayed */
  size_t hlen, hcap;
  int down;
} inproc;

#define IQ(q) ((inproc *)(q))

static int ring_push(inproc *q, hx_job_msg *m) {
  if (q->len == q->cap) {
    size_t ncap = q->cap ? q->cap * 2 : 1024;
    hx_job_msg *r = malloc(ncap * sizeof *r);
    if (!r) return HX_ENOMEM;
    for (size_t i = 0; i < q->len; i++) r[i] = q->ring[(q->head + i) % q->cap];
    free(q->ring);
    q->ring = r;
    q->cap = ncap;
    q->head = 0;
  }
  q->ring[(q->head + q->len) % q->cap] = *m;
  q->len++;
  return 0;
}

static void heap_swap(hx_job_msg *a, hx_job_msg *b) { hx_job_msg t = *a; *a = *b; *b = t; }

static int heap_push(inproc *q, hx_job_msg *m) {
  if (q->hlen == q->hcap) {
    size_t ncap = q->hcap ? q->hcap * 2 : 64;
    hx_job_msg *h = realloc(q->heap, ncap * sizeof *h);
    if (!h) return HX_ENOMEM;
    q->heap = h;
    q->hcap = ncap;
  }
  size_t i = q->hlen++;
  q->heap[i] = *m;
  while (i > 0 && q->heap[(i - 1) / 2].not_before > q->heap[i].not_before) {
    heap_swap(&q->heap[(i - 1) / 2], &q->heap[i]);
    i = (i - 1) / 2;
  }
  return 0;
}

static hx_job_msg heap_pop(inproc *q) {
  hx_job_msg top = q->heap[0];
  q->heap[0] = q->heap[--q->hlen];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < q->hlen && q->heap[l].not_before < q->heap[m].not_before) m = l;
    if (r < q->hlen && q->heap[r].not_before < q->heap[m].not_before) m = r;
    if (m == i) break;
    heap_swap(&q->heap[m], &q->heap[i]);
    i = m;
  }
  return top;
}

static int iq_push(hx_queue *qq, const hx_job_msg *src, hx_err *err) {
  inproc *q = IQ(qq);
  hx_job_msg copy = *src;
  hx_job_msg *m = &copy;
  /* a copy, not a shared reference: the consumer thread owns its message outright */
  m->payload = json_deep_copy(src->payload);
  pthread_mutex_lock(&q->mu);
  int rc = m->not_before > hx_now() ? heap_push(q, m) : ring_push(q, m);
  if (rc) {
    json_decref(m->payload);
    hx_err_set(err, rc, "in-process queue: out of memory");
  }
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

static size_t iq_pop(hx_queue *qq, hx_job_msg *out, size_t max, int timeout_ms) {
  inproc *q = IQ(qq);
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000L; }
  size_t n = 0;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    double now = hx_now();
    while (q->hlen && q->heap[0].not_before <= now) {
      hx_job_msg m = heap_pop(q);
      ring_push(q, &m);
    }
    if (q->down) break;
    while (n < max && q->len) {
      out[n++] = q->ring[q->head];
      q->head = (q->head + 1) % q->cap;
      q->len--;
    }
    if (n) break;
    struct timespec until = deadline;
    if (q->hlen) {
      double t = q->heap[0].not_before;
      struct timespec due = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};
      if (due.tv_sec < until.tv_sec || (due.tv_sec == until.tv_sec && due.tv_nsec < until.tv_nsec)) until = due;
    }
    if (pthread_cond_timedwait(&q->cv, &q->mu, &until) == ETIMEDOUT) {
      struct timespec nowts;
      clock_gettime(CLOCK_REALTIME, &nowts);
      if (nowts.tv_sec > deadline.tv_sec || (nowts.tv_sec == deadline.tv_sec && nowts.tv_nsec >= deadline.tv_nsec)) {
        if (!q->hlen || q->heap[0].not_before > hx_now()) break;
      }
    }
  }
  pthread_mutex_unlock(&q->mu);
  return n;
}

static void iq_shutdown(hx_queue *qq) {
  inproc *q = IQ(qq);
  pthread_mutex_lock(&q->mu);
  q->down = 1;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

static size_t iq_depth(hx_queue *qq) {
  inproc *q = IQ(qq);
  pthread_mutex_lock(&q->mu);
  size_t n = q->len + q->hlen;
  pthread_mutex_unlock(&q->mu);
  return n;
}

static void iq_close(hx_queue *qq) {
  if (!qq) return;
  inproc *q = IQ(qq);
  for (size_t i = 0; i < q->len; i++) hx_job_msg_release(&q->ring[(q->head + i) % q->cap]);
  for (size_t i = 0; i < q->hlen; i++) hx_job_msg_release(&q->heap[i]);
  free(q->ring);
  free(q->heap);
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->cv);
  free(q);
}

/* In-process deliveries need no ack: the ledger is the record, and recovery at
 * start re-delivers whatever did not finish. */
static void iq_ack(hx_queue *q, const hx_job_msg *msgs, size_t n) {}
static void iq_dead(hx_queue *q, const hx_job_msg *m, const char *error) {}

/* in-process: put it back with a short delay, marked as a re-delivery */
static void iq_nack(hx_queue *q, const hx_job_msg *msgs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    hx_job_msg again = msgs[i];
    again.reclaimed = 1;
    again.not_before = hx_now() + 1.0;
    hx_err err = {0};
    iq_push(q, &again, &err);
  }
}

static const hx_queue_ops inproc_ops = {
    .close = iq_close, .push = iq_push, .pop = iq_pop, .ack = iq_ack, .nack = iq_nack, .dead = iq_dead,
    .shutdown = iq_shutdown, .depth = iq_depth};

int hx_queue_open_inproc(hx_queue **out, hx_err *err) {
  inproc *q = calloc(1, sizeof *q);
  if (!q) return hx_err_set(err, HX_ENOMEM, "out of memory");
  q->base.ops = &inproc_ops;
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->cv, NULL);
  *out = &q->base;
  return 0;
}
