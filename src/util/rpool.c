/* rpool.c - hiredis connection pool with URL parsing, AUTH and SELECT. */
#include "util/rpool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_MAX 64

struct hx_rpool {
  char host[256], password[256];
  int port, db;
  struct timeval ct, io;
  pthread_mutex_t mu;
  redisContext *idle[POOL_MAX];
  int nidle;
};

static int parse_url(hx_rpool *p, const char *url, hx_err *err) {
  const char *s = url;
  if (strncmp(s, "redis://", 8) != 0) return hx_err_set(err, HX_ECONFIG, "REDIS_URL=%s must start with redis://", url);
  s += 8;
  const char *at = strchr(s, '@');
  if (at) {
    const char *colon = memchr(s, ':', (size_t)(at - s));
    const char *pw = colon ? colon + 1 : s;
    snprintf(p->password, sizeof p->password, "%.*s", (int)(at - pw), pw);
    s = at + 1;
  }
  size_t hl = strcspn(s, ":/");
  if (hl == 0 || hl >= sizeof p->host) return hx_err_set(err, HX_ECONFIG, "REDIS_URL=%s has no host", url);
  memcpy(p->host, s, hl);
  p->host[hl] = '\0';
  s += hl;
  p->port = 6379;
  if (*s == ':') p->port = atoi(++s);
  const char *slash = strchr(s, '/');
  p->db = slash && slash[1] ? atoi(slash + 1) : 0;
  if (p->port <= 0 || p->port > 65535) return hx_err_set(err, HX_ECONFIG, "REDIS_URL=%s has a bad port", url);
  return 0;
}

int hx_rpool_new(const char *url, int connect_timeout_ms, int io_timeout_ms, hx_rpool **out, hx_err *err) {
  hx_rpool *p = calloc(1, sizeof *p);
  if (!p) return hx_err_set(err, HX_ENOMEM, "out of memory");
  int rc = parse_url(p, url, err);
  if (rc) {
    free(p);
    return rc;
  }
  p->ct = (struct timeval){connect_timeout_ms / 1000, (connect_timeout_ms % 1000) * 1000};
  p->io = (struct timeval){io_timeout_ms / 1000, (io_timeout_ms % 1000) * 1000};
  pthread_mutex_init(&p->mu, NULL);
  *out = p;
  return 0;
}

void hx_rpool_free(hx_rpool *p) {
  if (!p) return;
  for (int i = 0; i < p->nidle; i++) redisFree(p->idle[i]);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

static redisContext *connect_one(hx_rpool *p, hx_err *err) {
  redisContext *c = redisConnectWithTimeout(p->host, p->port, p->ct);
  if (!c || c->err) {
    hx_err_set(err, c && strstr(c->errstr, "timed out") ? HX_ETIMEDOUT : HX_EIO, "cannot connect to Redis at %s:%d: %s",
               p->host, p->port, c ? c->errstr : "out of memory");
    if (c) redisFree(c);
    return NULL;
  }
  redisSetTimeout(c, p->io);
  redisReply *r;
  if (p->password[0]) {
    r = redisCommand(c, "AUTH %s", p->password);
    int bad = !r || r->type == REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    if (bad) {
      hx_err_set(err, HX_EIO, "Redis AUTH failed");
      redisFree(c);
      return NULL;
    }
  }
  if (p->db) {
    r = redisCommand(c, "SELECT %d", p->db);
    if (r) freeReplyObject(r);
  }
  return c;
}

redisContext *hx_rpool_get(hx_rpool *p, hx_err *err) {
  pthread_mutex_lock(&p->mu);
  redisContext *c = p->nidle ? p->idle[--p->nidle] : NULL;
  pthread_mutex_unlock(&p->mu);
  return c ? c : connect_one(p, err);
}

void hx_rpool_put(hx_rpool *p, redisContext *c) {
  if (!c) return;
  if (c->err) {
    redisFree(c);
    return;
  }
  pthread_mutex_lock(&p->mu);
  if (p->nidle < POOL_MAX) {
    p->idle[p->nidle++] = c;
    c = NULL;
  }
  pthread_mutex_unlock(&p->mu);
  if (c) redisFree(c);
}
