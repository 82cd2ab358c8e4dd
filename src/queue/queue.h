/*
 * queue.h - hands job messages from the dispatcher to the workers.
 *
 * Backends: inproc.c (embedded: memory, fed by the durable outbox, so losing
 * it in a crash loses nothing — recovery re-sends from the ledger) and, in
 * production, Redis Streams. Delivery is at-least-once; a message whose
 * not_before lies in the future is held back until then (retries).
 */
#ifndef HX_QUEUE_QUEUE_H
#define HX_QUEUE_QUEUE_H

#include <stddef.h>

#include "jobs/store.h"

typedef struct hx_queue hx_queue;

typedef struct hx_queue_ops {
  void (*close)(hx_queue *q);
  /* Publish m; the queue keeps its own copy (m stays the caller's). 0 or HX_E*. */
  int (*push)(hx_queue *q, const hx_job_msg *m, hx_err *err);
  /* Optional (NULL: push one by one): publish msgs[0..n) in one exchange.
   * *taken = how many of them, from the first, the queue took (a later one
   * may have been taken too: delivery is at-least-once). 0 or HX_E*. */
  int (*publish)(hx_queue *q, const hx_job_msg *msgs, size_t n, size_t *taken, hx_err *err);
  /* Up to max ready messages (ownership to the caller); waits up to timeout_ms
   * for the first. 0 messages on timeout or after shutdown. */
  size_t (*pop)(hx_queue *q, hx_job_msg *out, size_t max, int timeout_ms);
  /* The effects of these deliveries are committed: forget them. */
  void (*ack)(hx_queue *q, const hx_job_msg *msgs, size_t n);
  /* Give up on delivering these ourselves (e.g. the ledger is down): the queue
   * re-delivers them to some consumer later (reclaim), as if this one died. */
  void (*nack)(hx_queue *q, const hx_job_msg *msgs, size_t n);
  /* After the last attempt: keep the message where operators can see it. */
  void (*dead)(hx_queue *q, const hx_job_msg *m, const char *error);
  /* Wake all poppers and make pop return 0 from now on. */
  void (*shutdown)(hx_queue *q);
  size_t (*depth)(hx_queue *q);  /* ready + delayed */
} hx_queue_ops;

struct hx_queue { const hx_queue_ops *ops; };

int hx_queue_open_inproc(hx_queue **out, hx_err *err);
/* url: redis://[:password@]host[:port][/db]. visibility_ms: a delivery not
 * acked for this long is taken over by another consumer (its worker died). */
int hx_queue_open_redis(const char *url, long visibility_ms, hx_queue **out, hx_err *err);

#endif
