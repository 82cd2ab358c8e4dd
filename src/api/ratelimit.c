/* ratelimit.c - token buckets in an open-addressing table keyed by (org, class). */
#include "api/ratelimit.h"
#include "util/hash.h"
#include "util/rpool.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE 65536   /* power of two; at most 3/4 full */

typedef struct {
  char org[40];
  int cls;              /* -1 = empty */
  double tokens, last;
} bucket;

struct hx_ratelimit {
  double rate[HX_RL_NCLASSES], burst[HX_RL_NCLASSES];
  hx_rpool *redis;        /* shared buckets, or NULL */
  pthread_mutex_t mu;
  bucket *t;
  size_t used;
};

static const char *const NAMES[HX_RL_NCLASSES] = {"embed", "search", "upload", "jobs"};
static const char *const ENVS[HX_RL_NCLASSES] = {"HEIMDEX_RATE_LIMIT_EMBED", "HEIMDEX_RATE_LIMIT_SEARCH",
                                                 "HEIMDEX_RATE_LIMIT_UPLOAD", "HEIMDEX_RATE_LIMIT_JOBS"};

const char *hx_rl_class_name(hx_rl_class cls) { return NAMES[cls]; }
double hx_ratelimit_rate(const hx_ratelimit *r, hx_rl_class cls) { return r->rate[cls]; }

int hx_ratelimit_new(const char *redis_url, hx_ratelimit **out, hx_err *err) {
  hx_ratelimit *r = calloc(1, sizeof *r);
  if (!r) return hx_err_set(err, HX_ENOMEM, "out of memory");
  if (redis_url && *redis_url) {
    int rc = hx_rpool_new(redis_url, 500, 500, &r->redis, err);
    if (rc) {
      free(r);
      return rc;
    }
  }
  for (int c = 0; c < HX_RL_NCLASSES; c++) {
    const char *v = getenv(ENVS[c]);
    if (!v || !*v) continue;
    char *end;
    double rate = strtod(v, &end), burst = rate;
    if (*end == ',') burst = strtod(end + 1, &end);
    if (*end || !(rate >= 0) || !(burst >= 0) || rate > 1e9 || burst > 1e9 || (rate > 0 && burst < 1)) {
      free(r);
      return hx_err_set(err, HX_ECONFIG, "%s=%s is not RATE[,BURST] (requests per second, bucket size >= 1)",
                        ENVS[c], v);
    }
    r->rate[c] = rate;
    r->burst[c] = burst;
  }
  r->t = calloc(TABLE, sizeof *r->t);
  if (!r->t) {
    free(r);
    return hx_err_set(err, HX_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < TABLE; i++) r->t[i].cls = -1;
  pthread_mutex_init(&r->mu, NULL);
  *out = r;
  return 0;
}

void hx_ratelimit_free(hx_ratelimit *r) {
  if (!r) return;
  hx_rpool_free(r->redis);
  pthread_mutex_destroy(&r->mu);
  free(r->t);
  free(r);
}

static size_t slot_of(const char *org, int cls) {
  return (size_t)hx_fnv1a64(HX_FNV1A64_INIT ^ (uint64_t)cls, org, strlen(org)) & (TABLE - 1);
}

/* Drop buckets that have refilled completely: they carry no state. Rebuilds
 * the table so probe chains stay intact. */
static void compact(hx_ratelimit *r, double now) {
  bucket *old = r->t;
  bucket *t = calloc(TABLE, sizeof *t);
  if (!t) return;
  for (size_t i = 0; i < TABLE; i++) t[i].cls = -1;
  r->used = 0;
  for (size_t i = 0; i < TABLE; i++) {
    bucket *b = &old[i];
    if (b->cls < 0) continue;
    double tokens = fmin(r->burst[b->cls], b->tokens + (now - b->last) * r->rate[b->cls]);
    if (tokens >= r->burst[b->cls]) continue;
    size_t s = slot_of(b->org, b->cls);
    while (t[s].cls >= 0) s = (s + 1) & (TABLE - 1);
    t[s] = *b;
    r->used++;
  }
  r->t = t;
  free(old);
}

static const char BUCKET_LUA[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) + tonumber(t[2]) / 1000000\n"
    "local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local b = redis.call('HMGET', KEYS[1], 't', 'l')\n"
    "local tokens = tonumber(b[1]) or burst\n"
    "local last = tonumber(b[2]) or now\n"
    "tokens = math.min(burst, tokens + math.max(0, now - last) * rate)\n"
    "local ok = 0\n"
    "if tokens >= 1 then tokens = tokens - 1; ok = 1 end\n"
    "redis.call('HSET', KEYS[1], 't', tostring(tokens), 'l', tostring(now))\n"
    "redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)\n"
    "return {ok, tostring(tokens)}\n";

/* 1 allowed, 0 refused, -1 Redis unreachable */
static int take_redis(hx_ratelimit *r, const char *org, hx_rl_class cls, double *retry_after_s) {
  hx_err err = {0};
  redisContext *c = hx_rpool_get(r->redis, &err);
  if (!c) return -1;
  char key[128], rate[32], burst[32];
  snprintf(key, sizeof key, "heimdex:rl:%s:%s", NAMES[cls], org);
  snprintf(rate, sizeof rate, "%.17g", r->rate[cls]);
  snprintf(burst, sizeof burst, "%.17g", r->burst[cls]);
  redisReply *rep = redisCommand(c, "EVAL %s 1 %s %s %s", BUCKET_LUA, key, rate, burst);
  int out = -1;
  if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
    out = rep->element[0]->integer ? 1 : 0;
    if (!out) *retry_after_s = (1 - atof(rep->element[1]->str)) / r->rate[cls];
  }
  if (rep) freeReplyObject(rep);
  hx_rpool_put(r->redis, c);
  return out;
}

int hx_ratelimit_take(hx_ratelimit *r, const char *org, hx_rl_class cls, double now, double *retry_after_s) {
  if (r->rate[cls] <= 0) return 1;
  if (r->redis) {
    int ok = take_redis(r, org, cls, retry_after_s);
    return ok < 0 ? 1 : ok;   /* fail open */
  }
  pthread_mutex_lock(&r->mu);
  if (r->used >= TABLE / 4 * 3) compact(r, now);
  size_t s = slot_of(org, (int)cls);
  while (r->t[s].cls >= 0 && !(r->t[s].cls == (int)cls && !strcmp(r->t[s].org, org))) s = (s + 1) & (TABLE - 1);
  bucket *b = &r->t[s];
  int allowed;
  if (b->cls < 0) {
    if (r->used >= TABLE / 4 * 3) {  /* every bucket is busy: fail open rather than refuse everyone */
      pthread_mutex_unlock(&r->mu);
      return 1;
    }
    snprintf(b->org, sizeof b->org, "%s", org);
    b->cls = (int)cls;
    b->tokens = r->burst[cls];
    b->last = now;
    r->used++;
  }
  b->tokens = fmin(r->burst[cls], b->tokens + (now - b->last) * r->rate[cls]);
  b->last = now;
  if (b->tokens >= 1) {
    b->tokens -= 1;
    allowed = 1;
  } else {
    *retry_after_s = (1 - b->tokens) / r->rate[cls];
    allowed = 0;
  }
  pthread_mutex_unlock(&r->mu);
  return allowed;
}
