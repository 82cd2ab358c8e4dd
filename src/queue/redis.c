/*
 * redis.c - the production queue on Redis Streams (hiredis).
 *
 *   heimdex:jobs          stream; one field "m" = {"job_id","task","outbox_id","payload"}
 *   group "workers"       every worker process reads with XREADGROUP ... >
 *   heimdex:jobs:delayed  sorted set of messages by not_before (retries); due
 *                         ones move to the stream atomically (Lua), so delayed
 *                         retries survive restarts of heimdex and of Redis (with
 *                         its persistence)
 *   heimdex:jobs:dead     stream of messages whose job failed for good
 *
 * A delivery is XACKed (and XDELed) only after the job's outcome is committed.
 * Entries idle longer than the visibility timeout (their worker died) are taken
 * over with XAUTOCLAIM and delivered with reclaimed = 1; while a job runs, a
 * heartbeat thread re-claims this process's own deliveries (XCLAIM JUSTID) so
 * a long job is not taken over while its worker is alive. Every connection has
 * connect and command timeouts; a broken one is dropped and reconnected on the
 * next use, so a restarted Redis is used again without restarting heimdex.
 */
#include "queue/queue.h"
#include "util/json.h"
#include "util/log.h"
#include "util/rpool.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define STREAM "heimdex:jobs"
#define GROUP "workers"
#define DELAYED "heimdex:jobs:delayed"
#define DEAD "heimdex:jobs:dead"
#define POP_LINGER_US 5000

typedef struct {
  hx_queue base;
  hx_rpool *pool;
  long visibility_ms;
  char consumer[128];
  pthread_mutex_t mu;
  atomic_int down;
  double next_promote, next_reclaim;   /* under mu */
  char (*inflight)[48];                /* qids popped and not yet acked, under mu */
  size_t ninflight, capinflight;
  pthread_t heartbeat;
  int heartbeat_started;
  pthread_cond_t hb_cv;
} rq;

#define RQ(q) ((rq *)(q))

static const char PROMOTE_LUA[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 256)\n"
    "for _, m in ipairs(due) do\n"
    "  redis.call('XADD', KEYS[2], '*', 'm', m)\n"
    "  redis.call('ZREM', KEYS[1], m)\n"
    "end\n"
    "return #due\n";

static redisReply *cmdv(redisContext *c, int argc, const char **argv, const size_t *lens) {
  return redisCommandArgv(c, argc, argv, lens);
}

#define get_conn(q, err) hx_rpool_get((q)->pool, (err))
#define put_conn(q, c) hx_rpool_put((q)->pool, (c))

static char *encode(const hx_job_msg *m) {
  json_t *o = json_pack("{s:s,s:s,s:I,s:O?}", "job_id", m->job_id, "task", m->task_name, "outbox_id",
                        (json_int_t)m->outbox_id, "payload", m->payload);
  char *s = hx_json_compact(o);
  json_decref(o);
  return s;
}

static int decode(const char *s, size_t len, hx_job_msg *m) {
  json_t *o = json_loadb(s, len, 0, NULL);
  const char *job = json_string_value(json_object_get(o, "job_id"));
  const char *task = json_string_value(json_object_get(o, "task"));
  if (!job || !task) { json_decref(o); return HX_ECORRUPT; }
  snprintf(m->job_id, sizeof m->job_id, "%s", job);
  snprintf(m->task_name, sizeof m->task_name, "%s", task);
  m->outbox_id = json_integer_value(json_object_get(o, "outbox_id"));
  m->payload = json_incref(json_object_get(o, "payload"));
  json_decref(o);
  return 0;
}

/* XADD (due) or ZADD to the delayed set (a retry that waits), pipelined:
 * all commands are written, then all replies read. */
static int rq_publish(hx_queue *qq, const hx_job_msg *msgs, size_t n, size_t *taken, hx_err *err) {
  rq *q = RQ(qq);
  *taken = 0;
  if (n == 0) return 0;
  redisContext *c = get_conn(q, err);
  if (!c) return HX_EIO;
  double now = hx_now();
  for (size_t i = 0; i < n; i++) {
    char *enc = encode(&msgs[i]);
    if (msgs[i].not_before > now) {
      char score[32];
      snprintf(score, sizeof score, "%.6f", msgs[i].not_before);
      const char *argv[] = {"ZADD", DELAYED, score, enc};
      size_t lens[] = {4, strlen(DELAYED), strlen(score), strlen(enc)};
      redisAppendCommandArgv(c, 4, argv, lens);
    } else {
      const char *argv[] = {"XADD", STREAM, "*", "m", enc};
      size_t lens[] = {4, strlen(STREAM), 1, 1, strlen(enc)};
      redisAppendCommandArgv(c, 5, argv, lens);
    }
    free(enc);
  }
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    redisReply *r = NULL;
    if (redisGetReply(c, (void **)&r) != REDIS_OK || !r || r->type == REDIS_REPLY_ERROR) {
      if (!rc) rc = hx_err_set(err, HX_EIO, "Redis publish failed: %s", r ? r->str : c->errstr);
      if (!r) break;   /* connection broken: no more replies */
    } else if (!rc) {
      (*taken)++;
    }
    freeReplyObject(r);
  }
  put_conn(q, c);
  return rc;
}

static int rq_push(hx_queue *qq, const hx_job_msg *m, hx_err *err) {
  size_t taken = 0;
  return rq_publish(qq, m, 1, &taken, err);
}

/* Take entries from an XREADGROUP/XAUTOCLAIM entry array into out. */
static size_t take_entries(redisReply *entries, hx_job_msg *out, size_t max, int reclaimed) {
  size_t n = 0;
  for (size_t i = 0; entries && i < entries->elements && n < max; i++) {
    redisReply *e = entries->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[1]->type != REDIS_REPLY_ARRAY) continue;
    redisReply *fields = e->element[1];
    for (size_t f = 0; f + 1 < fields->elements; f += 2) {
      if (strcmp(fields->element[f]->str, "m") != 0) continue;
      hx_job_msg *m = &out[n];
      memset(m, 0, sizeof *m);
      if (decode(fields->element[f + 1]->str, fields->element[f + 1]->len, m) == 0) {
        snprintf(m->qid, sizeof m->qid, "%s", e->element[0]->str);
        m->reclaimed = reclaimed;
        n++;
      }
    }
  }
  return n;
}

/* Entries of the one stream of an XREADGROUP reply. */
static size_t take_stream(redisReply *r, hx_job_msg *out, size_t max) {
  redisReply *stream = r->element[0];
  if (stream->type != REDIS_REPLY_ARRAY || stream->elements < 2) return 0;
  return take_entries(stream->element[1], out, max, 0);
}

static void housekeeping(rq *q, redisContext *c, hx_job_msg *out, size_t max, size_t *n) {
  double now = hx_now();
  pthread_mutex_lock(&q->mu);
  int promote = now >= q->next_promote, reclaim = now >= q->next_reclaim;
  if (promote) q->next_promote = now + 0.1;
  if (reclaim) q->next_reclaim = now + (double)q->visibility_ms / 4000.0;
  pthread_mutex_unlock(&q->mu);
  if (promote) {
    char t[32];
    snprintf(t, sizeof t, "%.6f", now);
    redisReply *r = redisCommand(c, "EVAL %s 2 %s %s %s", PROMOTE_LUA, DELAYED, STREAM, t);
    if (r) freeReplyObject(r);
  }
  if (reclaim && *n < max) {
    /* hiredis formats take d/ld, not zu */
    redisReply *r = redisCommand(c, "XAUTOCLAIM %s %s %s %ld 0-0 COUNT %d", STREAM, GROUP, q->consumer,
                                 q->visibility_ms, (int)(max - *n));
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
      size_t got = take_entries(r->element[1], out + *n, max - *n, 1);
      if (got) hx_log(HX_LOG_WARN, "queue_reclaimed", json_pack("{s:I}", "count", (json_int_t)got));
      *n += got;
    }
    if (r) freeReplyObject(r);
  }
}

static void inflight_add(rq *q, const hx_job_msg *msgs, size_t n) {
  pthread_mutex_lock(&q->mu);
  for (size_t i = 0; i < n; i++) {
    if (q->ninflight == q->capinflight) {
      size_t cap = q->capinflight ? q->capinflight * 2 : 64;
      char(*p)[48] = realloc(q->inflight, cap * sizeof *p);
      if (!p) break;
      q->inflight = p;
      q->capinflight = cap;
    }
    memcpy(q->inflight[q->ninflight++], msgs[i].qid, 48);
  }
  pthread_mutex_unlock(&q->mu);
}

static void inflight_remove(rq *q, const char *qid) {
  pthread_mutex_lock(&q->mu);
  for (size_t i = 0; i < q->ninflight; i++)
    if (!strcmp(q->inflight[i], qid)) {
      memcpy(q->inflight[i], q->inflight[--q->ninflight], 48);
      break;
    }
  pthread_mutex_unlock(&q->mu);
}

/* Reset the idle time of this process's deliveries every visibility/3. */
static void *heartbeat_main(void *p) {
  rq *q = p;
  pthread_setname_np(pthread_self(), "hx-redis-hb");
  while (!atomic_load(&q->down)) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long ms = q->visibility_ms / 3;
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&q->mu);
    pthread_cond_timedwait(&q->hb_cv, &q->mu, &until);
    size_t n = q->ninflight;
    const char **argv = calloc(n + 7, sizeof *argv);
    size_t *lens = calloc(n + 7, sizeof *lens);
    char (*ids)[48] = n ? malloc(n * 48) : NULL;
    if (ids) memcpy(ids, q->inflight, n * 48);
    pthread_mutex_unlock(&q->mu);
    if (n && argv && lens && ids && !atomic_load(&q->down)) {
      size_t a = 0;
      argv[a++] = "XCLAIM"; argv[a++] = STREAM; argv[a++] = GROUP; argv[a++] = q->consumer; argv[a++] = "0";
      for (size_t i = 0; i < n; i++) argv[a++] = ids[i];
      argv[a++] = "JUSTID";
      for (size_t i = 0; i < a; i++) lens[i] = strlen(argv[i]);
      hx_err err = {0};
      redisContext *c = get_conn(q, &err);
      if (c) {
        redisReply *r = cmdv(c, (int)a, argv, lens);
        if (r) freeReplyObject(r);
        put_conn(q, c);
      }
    }
    free(argv);
    free(lens);
    free(ids);
  }
  return NULL;
}

static size_t rq_pop(hx_queue *qq, hx_job_msg *out, size_t max, int timeout_ms) {
  rq *q = RQ(qq);
  if (atomic_load(&q->down)) return 0;
  hx_err err = {0};
  redisContext *c = get_conn(q, &err);
  if (!c) {
    usleep((useconds_t)(timeout_ms > 1000 ? 1000 : timeout_ms) * 1000);  /* Redis down: wait, do not spin */
    return 0;
  }
  size_t n = 0;
  housekeeping(q, c, out, max, &n);
  if (n == 0) {
    int block = timeout_ms > 1000 ? 1000 : timeout_ms;  /* bounded, so shutdown is prompt */
    redisReply *r = redisCommand(c, "XREADGROUP GROUP %s %s COUNT %d BLOCK %d STREAMS %s >", GROUP, q->consumer,
                                 (int)max, block, STREAM);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
      n = take_stream(r, out, max);
      /* a part batch: linger a moment for the rest, so that under load the
       * ledger and the store see fewer, larger batches */
      if (n && n < max) {
        freeReplyObject(r);
        usleep(POP_LINGER_US);
        r = redisCommand(c, "XREADGROUP GROUP %s %s COUNT %d STREAMS %s >", GROUP, q->consumer, (int)(max - n), STREAM);
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) n += take_stream(r, out + n, max - n);
      }
    } else if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOGROUP", 7) == 0) {
      redisReply *g = redisCommand(c, "XGROUP CREATE %s %s 0 MKSTREAM", STREAM, GROUP);
      if (g) freeReplyObject(g);
    }
    if (r) freeReplyObject(r);
  }
  put_conn(q, c);
  if (n) inflight_add(q, out, n);
  return n;
}

/* One XACK and one XDEL naming every delivery, pipelined. */
static void rq_ack(hx_queue *qq, const hx_job_msg *msgs, size_t n) {
  rq *q = RQ(qq);
  const char **argv = calloc(n + 3, sizeof *argv);
  size_t *lens = calloc(n + 3, sizeof *lens), ids = 0;
  for (size_t i = 0; argv && lens && i < n; i++)
    if (msgs[i].qid[0]) {
      argv[3 + ids] = msgs[i].qid;
      lens[3 + ids++] = strlen(msgs[i].qid);
      inflight_remove(q, msgs[i].qid);
    }
  hx_err err = {0};
  redisContext *c = ids ? get_conn(q, &err) : NULL;
  if (c) { /* else not acked: reclaimed later, and the ledger makes that harmless */
    argv[0] = "XACK"; argv[1] = STREAM; argv[2] = GROUP;
    lens[0] = 4; lens[1] = strlen(STREAM); lens[2] = strlen(GROUP);
    redisAppendCommandArgv(c, (int)(3 + ids), argv, lens);
    argv[1] = "XDEL"; argv[2] = STREAM;
    lens[1] = 4; lens[2] = strlen(STREAM);
    redisAppendCommandArgv(c, (int)(2 + ids), argv + 1, lens + 1);
    for (int k = 0; k < 2; k++) {
      void *r = NULL;
      if (redisGetReply(c, &r) == REDIS_OK) freeReplyObject(r);
    }
    put_conn(q, c);
  }
  free(argv);
  free(lens);
}

/* Stop heartbeating them: after the visibility timeout XAUTOCLAIM hands them
 * to a consumer again, marked reclaimed. */
static void rq_nack(hx_queue *qq, const hx_job_msg *msgs, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (msgs[i].qid[0]) inflight_remove(RQ(qq), msgs[i].qid);
}

static void rq_dead(hx_queue *qq, const hx_job_msg *m, const char *error) {
  rq *q = RQ(qq);
  hx_err err = {0};
  redisContext *c = get_conn(q, &err);
  if (!c) return;
  /* keep the message for operators, but not the raw text it carried */
  hx_job_msg kept = *m;
  kept.payload = json_deep_copy(m->payload);
  json_t *kw = json_object_get(kept.payload, "kwargs");
  json_object_del(kw, "text");
  json_t *segs = json_object_get(kw, "segments");
  size_t si;
  json_t *sg;
  json_array_foreach(segs, si, sg) json_object_del(sg, "text");
  char *enc = encode(&kept);
  json_decref(kept.payload);
  const char *argv[] = {"XADD", DEAD, "MAXLEN", "~", "100000", "*", "m", enc, "error", error ? error : ""};
  size_t lens[10];
  for (int i = 0; i < 10; i++) lens[i] = strlen(argv[i]);
  redisReply *r = cmdv(c, 10, argv, lens);
  if (r) freeReplyObject(r);
  free(enc);
  put_conn(q, c);
}

static void rq_shutdown(hx_queue *qq) {
  rq *q = RQ(qq);
  atomic_store(&q->down, 1);
  pthread_mutex_lock(&q->mu);
  pthread_cond_broadcast(&q->hb_cv);
  pthread_mutex_unlock(&q->mu);
}

static size_t rq_depth(hx_queue *qq) {
  rq *q = RQ(qq);
  hx_err err = {0};
  redisContext *c = get_conn(q, &err);
  if (!c) return 0;
  size_t d = 0;
  redisReply *r = redisCommand(c, "XLEN %s", STREAM);
  if (r && r->type == REDIS_REPLY_INTEGER) d += (size_t)r->integer;
  if (r) freeReplyObject(r);
  r = redisCommand(c, "ZCARD %s", DELAYED);
  if (r && r->type == REDIS_REPLY_INTEGER) d += (size_t)r->integer;
  if (r) freeReplyObject(r);
  put_conn(q, c);
  return d;
}

static void rq_close(hx_queue *qq) {
  if (!qq) return;
  rq *q = RQ(qq);
  if (q->heartbeat_started) {
    rq_shutdown(qq);
    pthread_join(q->heartbeat, NULL);
  }
  free(q->inflight);
  pthread_cond_destroy(&q->hb_cv);
  hx_rpool_free(q->pool);
  pthread_mutex_destroy(&q->mu);
  free(q);
}

static const hx_queue_ops redis_ops = {
    .close = rq_close, .push = rq_push, .publish = rq_publish, .pop = rq_pop, .ack = rq_ack, .nack = rq_nack, .dead = rq_dead,
    .shutdown = rq_shutdown, .depth = rq_depth};

int hx_queue_open_redis(const char *url, long visibility_ms, hx_queue **out, hx_err *err) {
  rq *q = calloc(1, sizeof *q);
  if (!q) return hx_err_set(err, HX_ENOMEM, "out of memory");
  q->base.ops = &redis_ops;
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->hb_cv, NULL);
  q->visibility_ms = visibility_ms;
  char host[96] = "";
  gethostname(host, sizeof host - 1);
  snprintf(q->consumer, sizeof q->consumer, "hx-%s-%d", host, (int)getpid());
  int rc = hx_rpool_new(url, 2000, 5000, &q->pool, err);
  redisContext *c = rc ? NULL : hx_rpool_get(q->pool, err);
  if (!c) {
    rq_close(&q->base);
    return rc ? rc : HX_EIO;
  }
  redisReply *r = redisCommand(c, "XGROUP CREATE %s %s 0 MKSTREAM", STREAM, GROUP);
  if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0)
    rc = hx_err_set(err, HX_EIO, "Redis: cannot create consumer group: %s", r->str);
  if (r) freeReplyObject(r);
  put_conn(q, c);
  if (!rc && pthread_create(&q->heartbeat, NULL, heartbeat_main, q) == 0) q->heartbeat_started = 1;
  if (rc) {
    rq_close(&q->base);
    return rc;
  }
  *out = &q->base;
  return 0;
}
