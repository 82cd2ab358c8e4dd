/* probe.c - dependency probes with retries, backoff and dual-TTL caching. */
#include "obs/probe.h"
#include "util/log.h"
#include "util/rpool.h"

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

enum { DEP_PG, DEP_REDIS, DEP_QDRANT, DEP_GCS, NDEPS };
static const char *const DEP_NAMES[NDEPS] = {"pg", "redis", "qdrant", "gcs"};

typedef struct {
  pthread_mutex_t mu;
  json_t *cached;
  double expires;
} slot;

struct hx_probes {
  const hx_config *cfg;
  slot s[NDEPS];
};

/* ---- single attempts ---- */

static int wait_fd(int fd, int events, double deadline) {
  int left = (int)((deadline - hx_mono()) * 1000);
  if (left <= 0) return 0;
  struct pollfd p = {fd, (short)events, 0};
  return poll(&p, 1, left) > 0;
}

int hx_probe_pg_once(const char *conninfo, int timeout_ms, char reason[64]) {
  double deadline = hx_mono() + timeout_ms / 1000.0;
  const char *keys[] = {"dbname", "application_name", NULL};
  const char *vals[] = {conninfo ? conninfo : "", "heimdex-probe", NULL};
  PGconn *c = PQconnectStartParams(keys, vals, 1);
  int ok = 0;
  if (!c || PQstatus(c) == CONNECTION_BAD) { snprintf(reason, 64, "connection_error"); goto out; }
  for (;;) {
    PostgresPollingStatusType st = PQconnectPoll(c);
    if (st == PGRES_POLLING_OK) break;
    if (st == PGRES_POLLING_FAILED) { snprintf(reason, 64, "connection_error"); goto out; }
    if (!wait_fd(PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
      snprintf(reason, 64, "timeout");
      goto out;
    }
  }
  if (!PQsendQuery(c, "SELECT 1")) { snprintf(reason, 64, "connection_error"); goto out; }
  while (PQisBusy(c)) {
    if (!wait_fd(PQsocket(c), POLLIN, deadline)) { snprintf(reason, 64, "timeout"); goto out; }
    if (!PQconsumeInput(c)) { snprintf(reason, 64, "connection_error"); goto out; }
  }
  PGresult *r;
  ok = 1;
  while ((r = PQgetResult(c))) {
    if (PQresultStatus(r) != PGRES_TUPLES_OK || strcmp(PQgetvalue(r, 0, 0), "1") != 0) {
      ok = 0;
      snprintf(reason, 64, "unexpected_result");
    }
    PQclear(r);
  }
out:
  PQfinish(c);
  return ok;
}

int hx_probe_redis_once(const char *url, int timeout_ms, char reason[64]) {
  hx_rpool *pool = NULL;
  hx_err err = {0};
  if (hx_rpool_new(url, timeout_ms, timeout_ms, &pool, &err)) {
    snprintf(reason, 64, "exception:BadURL");
    return 0;
  }
  redisContext *c = hx_rpool_get(pool, &err);
  int ok = 0;
  if (!c) {
    snprintf(reason, 64, err.code == HX_ETIMEDOUT ? "timeout" : "exception:ConnectionError");
  } else {
    redisReply *r = redisCommand(c, "PING");
    ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (!ok) snprintf(reason, 64, !r && c->err == REDIS_ERR_IO ? "timeout" : "ping_failed");
    if (r) freeReplyObject(r);
    redisFree(c);
  }
  hx_rpool_free(pool);
  return ok;
}

static size_t discard(void *p, size_t sz, size_t n, void *u) { return sz * n; }

int hx_probe_http_once(const char *url, const char *api_key, int timeout_ms, char reason[64]) {
  CURL *h = curl_easy_init();
  if (!h) { snprintf(reason, 64, "exception:CurlInit"); return 0; }
  char root[600];
  snprintf(root, sizeof root, "%s/", url);
  curl_easy_setopt(h, CURLOPT_URL, root);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  struct curl_slist *hdr = NULL;
  if (api_key && api_key[0]) {  /* Qdrant with an API key may refuse its root without it */
    char line[300];
    snprintf(line, sizeof line, "api-key: %s", api_key);
    hdr = curl_slist_append(NULL, line);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  }
  CURLcode rc = curl_easy_perform(h);
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(h);
  curl_slist_free_all(hdr);
  if (rc == CURLE_OPERATION_TIMEDOUT) { snprintf(reason, 64, "timeout"); return 0; }
  if (rc != CURLE_OK) { snprintf(reason, 64, "exception:ConnectionError"); return 0; }
  if (code != 200) { snprintf(reason, 64, "http_%ld", code); return 0; }
  return 1;
}

/* ---- retries and caching ---- */

static void backoff(int attempt) {
  long ms = 100L << attempt;
  if (ms > 200) ms = 200;
  uint32_t r = 0x80000000u;
  if (getrandom(&r, sizeof r, 0) != sizeof r) r = 0x80000000u;
  double d = (double)ms * (0.8 + 0.4 * ((double)r / 4294967295.0));
  struct timespec ts = {(time_t)(d / 1000), (long)((long)d % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int attempt_once(hx_probes *p, int dep, char reason[64]) {
  const hx_config *c = p->cfg;
  switch (dep) {
    case DEP_PG: return hx_probe_pg_once(c->database_url, c->probe_timeout_ms, reason);
    case DEP_REDIS: return hx_probe_redis_once(c->redis_url_probe, c->probe_timeout_ms, reason);
    case DEP_QDRANT: return hx_probe_http_once(c->qdrant_url, c->qdrant_api_key, c->probe_timeout_ms, reason);
    default: snprintf(reason, 64, "exception:NotSupported"); return 0; /* no GCS client in this build */
  }
}

static double round2(double x) { return (double)(long long)(x * 100 + (x >= 0 ? 0.5 : -0.5)) / 100; }

static json_t *probe_with_retry(hx_probes *p, int dep) {
  int retries = p->cfg->probe_retries;
  double total = 0;
  char reason[64] = "";
  for (int a = 0; a <= retries; a++) {
    double t0 = hx_mono();
    int ok = attempt_once(p, dep, reason);
    double ms = (hx_mono() - t0) * 1000;
    total += ms;
    if (ok)
      return json_pack("{s:b,s:b,s:b,s:f,s:i,s:n}", "enabled", 1, "skipped", 0, "ok", 1, "latency_ms", round2(ms),
                       "attempts", a + 1, "reason");
    hx_log(HX_LOG_WARN, "probe_attempt_failed",
           json_pack("{s:s,s:i,s:i,s:f,s:s}", "dep", DEP_NAMES[dep], "attempt", a + 1, "max_attempts", retries + 1,
                     "elapsed_ms", round2(ms), "reason", reason));
    if (a < retries) backoff(a);
  }
  return json_pack("{s:b,s:b,s:b,s:f,s:i,s:s}", "enabled", 1, "skipped", 0, "ok", 0, "latency_ms",
                   round2(total / (retries + 1)), "attempts", retries + 1, "reason", reason);
}

json_t *hx_probes_check(hx_probes *p, const char *name) {
  int dep = -1;
  for (int i = 0; i < NDEPS; i++)
    if (!strcmp(name, DEP_NAMES[i])) dep = i;
  const hx_config *c = p->cfg;
  int enabled = dep == DEP_PG ? c->enable_pg : dep == DEP_REDIS ? c->enable_redis
              : dep == DEP_QDRANT ? c->enable_qdrant : dep == DEP_GCS ? c->enable_gcs : 0;
  if (!enabled)
    return json_pack("{s:b,s:b,s:n,s:n,s:i,s:s}", "enabled", 0, "skipped", 1, "ok", "latency_ms", "attempts", 0,
                     "reason", "disabled");
  slot *s = &p->s[dep];
  pthread_mutex_lock(&s->mu);   /* one probe at a time per dependency; others wait for its answer */
  if (!s->cached || hx_mono() >= s->expires) {
    json_decref(s->cached);
    s->cached = probe_with_retry(p, dep);
    int ok = json_is_true(json_object_get(s->cached, "ok"));
    s->expires = hx_mono() + (ok ? c->probe_cache_sec : c->probe_cooldown_sec);
  }
  json_t *out = json_deep_copy(s->cached);
  pthread_mutex_unlock(&s->mu);
  return out;
}

hx_probes *hx_probes_new(const hx_config *cfg) {
  hx_probes *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->cfg = cfg;
  for (int i = 0; i < NDEPS; i++) pthread_mutex_init(&p->s[i].mu, NULL);
  return p;
}

void hx_probes_free(hx_probes *p) {
  if (!p) return;
  for (int i = 0; i < NDEPS; i++) {
    json_decref(p->s[i].cached);
    pthread_mutex_destroy(&p->s[i].mu);
  }
  free(p);
}
