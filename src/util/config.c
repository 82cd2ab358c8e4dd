/* config.c - environment parsing and validation. */
#include "util/config.h"
#include "util/log.h"

#include <jansson.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int get_str(const char *name, const char *def, char *out, size_t cap, hx_err *err) {
  const char *v = getenv(name);
  if (!v) v = def;
  if (strlen(v) >= cap) return hx_err_set(err, HX_ECONFIG, "%s is too long (max %zu bytes)", name, cap - 1);
  memcpy(out, v, strlen(v) + 1);
  return 0;
}

static int get_int(const char *name, long def, long lo, long hi, long *out, hx_err *err) {
  const char *v = getenv(name);
  if (!v || !*v) { *out = def; return 0; }
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || *end || end == v)
    return hx_err_set(err, HX_ECONFIG, "%s=%s is not an integer", name, v);
  if (x < lo || x > hi)
    return hx_err_set(err, HX_ECONFIG, "%s=%ld is out of range [%ld, %ld]", name, x, lo, hi);
  *out = x;
  return 0;
}

static int get_bool(const char *name, int def, int *out, hx_err *err) {
  const char *v = getenv(name);
  if (!v || !*v) { *out = def; return 0; }
  if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")) { *out = 1; return 0; }
  if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off")) { *out = 0; return 0; }
  return hx_err_set(err, HX_ECONFIG, "%s=%s is not a boolean (true/false)", name, v);
}

/* scheme://user:password@host -> scheme://user:***@host */
static json_t *masked_url(const char *url) {
  const char *scheme = strstr(url, "://"), *at = scheme ? strchr(scheme + 3, '@') : NULL;
  if (!at) return json_string(url);
  const char *colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3));
  if (!colon) return json_string(url);
  char buf[1100];
  snprintf(buf, sizeof buf, "%.*s:***%s", (int)(colon - url), url, at);
  return json_string(buf);
}

json_t *hx_config_json(const hx_config *c) {
  static const char *const levels[] = {"debug", "info", "warn", "error"};
  char listen[96], stages[64];
  snprintf(listen, sizeof listen, "%s:%d", c->listen_host, c->listen_port);
  snprintf(stages, sizeof stages, "%d,%d,%d", c->mock_stage_ms[0], c->mock_stage_ms[1], c->mock_stage_ms[2]);
  json_t *o = json_pack(
      "{s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:b,s:b,s:b,s:b,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:I,s:i,s:i,s:i,s:s,"
      "s:b,s:s,s:I,s:s,s:s}",
      "HEIMDEX_ENV", c->env, "HEIMDEX_LISTEN", listen, "HEIMDEX_DATA_DIR", c->data_dir, "VECTOR_SIZE", c->vector_size,
      "AUTH_PROVIDER", c->auth_provider, "DEV_JWT_SECRET", c->dev_jwt_secret[0] ? "***" : "", "AUTH_ISSUER",
      c->auth_issuer, "AUTH_AUDIENCE", c->auth_audience, "SUPABASE_JWKS_URL", c->supabase_jwks_url,
      "OUTBOX_DISPATCH_INTERVAL_MS", c->outbox_interval_ms, "HEIMDEX_OUTBOX_BATCH", c->outbox_batch, "ENABLE_PG",
      c->enable_pg, "ENABLE_REDIS", c->enable_redis, "ENABLE_QDRANT", c->enable_qdrant, "ENABLE_GCS", c->enable_gcs,
      "PROBE_TIMEOUT_MS", c->probe_timeout_ms, "PROBE_RETRIES", c->probe_retries, "PROBE_CACHE_SEC", c->probe_cache_sec,
      "PROBE_COOLDOWN_SEC", c->probe_cooldown_sec, "HEIMDEX_WORKERS", c->workers, "HEIMDEX_WORKER_BATCH",
      c->worker_batch, "HEIMDEX_HTTP_THREADS", c->http_threads, "HEIMDEX_MAX_BODY_BYTES", (json_int_t)c->max_body_bytes,
      "HEIMDEX_JOB_MAX_RETRIES", c->job_max_retries, "HEIMDEX_RETRY_MIN_MS", c->retry_min_ms, "HEIMDEX_RETRY_MAX_MS",
      c->retry_max_ms, "HEIMDEX_MOCK_STAGE_MS", stages, "HEIMDEX_SYNC", c->sync_commit, "HEIMDEX_LOG_LEVEL",
      levels[c->log_level & 3], "HEIMDEX_QUEUE_VISIBILITY_MS", (json_int_t)c->queue_visibility_ms, "QDRANT_URL",
      c->qdrant_url, "ledger", c->use_pg ? "postgresql" : "sqlite");
  json_object_set_new(o, "DATABASE_URL", masked_url(c->database_url));
  json_object_set_new(o, "HEIMDEX_OUTBOX_RETENTION_SEC", json_integer(c->outbox_retention_sec));
  json_object_set_new(o, "REDIS_URL", masked_url(c->redis_url));
  json_object_set_new(o, "QDRANT_API_KEY", json_string(c->qdrant_api_key[0] ? "***" : ""));
  json_object_set_new(o, "HEIMDEX_QDRANT_TIMEOUT_MS", json_integer(c->qdrant_timeout_ms));
  json_object_set_new(o, "queue", json_string(c->redis_url[0] ? "redis" : "inproc"));
  json_object_set_new(o, "HEIMDEX_MODELS_DIR", json_string(c->models_dir));
  json_object_set_new(o, "EMBEDDING_MODEL_NAME", json_string(c->embedding_model));
  json_object_set_new(o, "HEIMDEX_MAX_BATCH_SEGMENTS", json_integer(c->max_batch_segments));
  json_object_set_new(o, "HEIMDEX_MAX_UPLOAD_BYTES", json_integer(c->max_upload_bytes));
  json_object_set_new(o, "HEIMDEX_CHUNK_TOKENS", json_integer(c->chunk_tokens));
  json_object_set_new(o, "AUTH_JWT_ALG", json_string(c->auth_alg));
  json_object_set_new(o, "AUTH_JWT_LEEWAY_SEC", json_integer(c->auth_leeway_sec));
  if (!strcmp(c->auth_provider, "supabase"))
    json_object_update_new(o, json_pack("{s:i,s:i,s:i}", "HEIMDEX_JWKS_TTL_SEC", c->jwks_ttl_sec,
                                        "HEIMDEX_JWKS_REFETCH_SEC", c->jwks_refetch_sec,
                                        "HEIMDEX_JWKS_TIMEOUT_MS", c->jwks_timeout_ms));
  return o;
}

#define INT(name, def, lo, hi, field)                         \
  do {                                                        \
    long v_;                                                  \
    if ((rc = get_int(name, def, lo, hi, &v_, err))) return rc; \
    c->field = (int)v_;                                       \
  } while (0)

int hx_config_load(hx_config *c, hx_err *err) {
  int rc;
  memset(c, 0, sizeof *c);
  if ((rc = get_str("HEIMDEX_ENV", "local", c->env, sizeof c->env, err))) return rc;
  if (strcmp(c->env, "local") && strcmp(c->env, "dev") && strcmp(c->env, "staging") && strcmp(c->env, "prod"))
    return hx_err_set(err, HX_ECONFIG, "HEIMDEX_ENV=%s is not one of local, dev, staging, prod", c->env);

  char listen[128];
  if ((rc = get_str("HEIMDEX_LISTEN", "127.0.0.1:8000", listen, sizeof listen, err))) return rc;
  char *colon = strrchr(listen, ':');
  char *end;
  long port = colon ? strtol(colon + 1, &end, 10) : -1;
  if (!colon || colon == listen || *end || port < 0 || port > 65535 || (size_t)(colon - listen) >= sizeof c->listen_host)
    return hx_err_set(err, HX_ECONFIG, "HEIMDEX_LISTEN=%s is not HOST:PORT", listen);
  memcpy(c->listen_host, listen, (size_t)(colon - listen));
  c->listen_port = (int)port;

  if ((rc = get_str("HEIMDEX_DATA_DIR", "./data", c->data_dir, sizeof c->data_dir, err))) return rc;
  INT("VECTOR_SIZE", 384, 1, 65536, vector_size);
  if ((rc = get_str("AUTH_PROVIDER", "dev", c->auth_provider, sizeof c->auth_provider, err))) return rc;
  if (strcmp(c->auth_provider, "dev") && strcmp(c->auth_provider, "supabase"))
    return hx_err_set(err, HX_ECONFIG, "AUTH_PROVIDER=%s is not one of dev, supabase", c->auth_provider);
  /* the original's default, so its quick start works unchanged; refused outside local below */
  if ((rc = get_str("DEV_JWT_SECRET", "local-dev-secret", c->dev_jwt_secret, sizeof c->dev_jwt_secret, err))) return rc;
  if ((rc = get_str("AUTH_ISSUER", "", c->auth_issuer, sizeof c->auth_issuer, err))) return rc;
  if ((rc = get_str("AUTH_AUDIENCE", "", c->auth_audience, sizeof c->auth_audience, err))) return rc;
  if ((rc = get_str("SUPABASE_JWKS_URL", "", c->supabase_jwks_url, sizeof c->supabase_jwks_url, err))) return rc;
  if (!strcmp(c->auth_provider, "dev")) {
    if (strcmp(c->env, "local"))
      return hx_err_set(err, HX_ECONFIG, "AUTH_PROVIDER=dev is only allowed when HEIMDEX_ENV=local (HEIMDEX_ENV=%s)", c->env);
    if (!c->dev_jwt_secret[0])
      return hx_err_set(err, HX_ECONFIG, "DEV_JWT_SECRET must not be empty when AUTH_PROVIDER=dev");
    if ((rc = get_str("AUTH_JWT_ALG", "HS256", c->auth_alg, sizeof c->auth_alg, err))) return rc;
    if (strcmp(c->auth_alg, "HS256"))
      return hx_err_set(err, HX_ECONFIG, "AUTH_JWT_ALG=%s is not HS256 (the only algorithm of AUTH_PROVIDER=dev)", c->auth_alg);
    INT("AUTH_JWT_LEEWAY_SEC", 0, 0, 300, auth_leeway_sec);
  } else {
    /* the algorithm is pinned here, never taken from a token's header */
    if ((rc = get_str("AUTH_JWT_ALG", "RS256", c->auth_alg, sizeof c->auth_alg, err))) return rc;
    if (strcmp(c->auth_alg, "RS256") && strcmp(c->auth_alg, "ES256"))
      return hx_err_set(err, HX_ECONFIG, "AUTH_JWT_ALG=%s is not one of RS256, ES256 (AUTH_PROVIDER=supabase)", c->auth_alg);
    if (!c->supabase_jwks_url[0])
      return hx_err_set(err, HX_ECONFIG, "SUPABASE_JWKS_URL must be set when AUTH_PROVIDER=supabase"
                                         " (https://<project>.supabase.co/auth/v1/.well-known/jwks.json, file://... or a path)");
    const char *u = c->supabase_jwks_url;
    if (strncmp(u, "https://", 8) && strncmp(u, "http://", 7) && strncmp(u, "file://", 7) && u[0] != '/' && u[0] != '.')
      return hx_err_set(err, HX_ECONFIG, "SUPABASE_JWKS_URL=%s is not an http(s):// or file:// URL or a path", u);
    if (!c->auth_issuer[0])
      return hx_err_set(err, HX_ECONFIG, "AUTH_ISSUER must be set when AUTH_PROVIDER=supabase"
                                         " (e.g. https://<project>.supabase.co/auth/v1)");
    INT("AUTH_JWT_LEEWAY_SEC", 30, 0, 300, auth_leeway_sec);
    INT("HEIMDEX_JWKS_TTL_SEC", 600, 1, 86400, jwks_ttl_sec);
    INT("HEIMDEX_JWKS_REFETCH_SEC", 30, 0, 3600, jwks_refetch_sec);
    INT("HEIMDEX_JWKS_TIMEOUT_MS", 3000, 100, 60000, jwks_timeout_ms);
  }

  INT("OUTBOX_DISPATCH_INTERVAL_MS", 500, 1, 600000, outbox_interval_ms);
  INT("HEIMDEX_OUTBOX_BATCH", 100, 1, 10000, outbox_batch);
  INT("HEIMDEX_OUTBOX_RETENTION_SEC", 3600, 0, 31536000, outbox_retention_sec);
  /* PROBE_*: the original clamps out-of-range values instead of refusing them */
  INT("PROBE_TIMEOUT_MS", 300, INT_MIN, INT_MAX, probe_timeout_ms);
  INT("PROBE_RETRIES", 2, INT_MIN, INT_MAX, probe_retries);
  INT("PROBE_CACHE_SEC", 10, INT_MIN, INT_MAX, probe_cache_sec);
  INT("PROBE_COOLDOWN_SEC", 30, INT_MIN, INT_MAX, probe_cooldown_sec);
#define CLAMP(v, lo, hi) ((v) < (lo) ? (lo) : (v) > (hi) ? (hi) : (v))
  c->probe_timeout_ms = CLAMP(c->probe_timeout_ms, 50, 5000);
  c->probe_retries = CLAMP(c->probe_retries, 0, 5);
  c->probe_cache_sec = CLAMP(c->probe_cache_sec, 1, 60);
  c->probe_cooldown_sec = CLAMP(c->probe_cooldown_sec, 5, 300);
#undef CLAMP
  INT("HEIMDEX_WORKERS", 2, 1, 256, workers);
  INT("HEIMDEX_WORKER_BATCH", 64, 1, 64, worker_batch);
  INT("HEIMDEX_HTTP_THREADS", 16, 1, 1024, http_threads);
  long mb;
  if ((rc = get_int("HEIMDEX_MAX_BODY_BYTES", 1L << 20, 1024, 1L << 30, &mb, err))) return rc;
  c->max_body_bytes = mb;
  if ((rc = get_int("HEIMDEX_MAX_UPLOAD_BYTES", 10L << 20, 1, 1L << 36, &mb, err))) return rc;
  c->max_upload_bytes = mb;
  INT("HEIMDEX_CHUNK_TOKENS", 256, 8, 65536, chunk_tokens);
  INT("HEIMDEX_JOB_MAX_RETRIES", 3, 0, 100, job_max_retries);
  INT("HEIMDEX_RETRY_MIN_MS", 1000, 0, 3600000, retry_min_ms);
  INT("HEIMDEX_RETRY_MAX_MS", 60000, 0, 86400000, retry_max_ms);
  if (c->retry_max_ms < c->retry_min_ms)
    return hx_err_set(err, HX_ECONFIG, "HEIMDEX_RETRY_MAX_MS=%d is below HEIMDEX_RETRY_MIN_MS=%d", c->retry_max_ms, c->retry_min_ms);

  char stages[64];
  if ((rc = get_str("HEIMDEX_MOCK_STAGE_MS", "2000,3000,1000", stages, sizeof stages, err))) return rc;
  char *p = stages;
  for (int i = 0; i < 3; i++) {
    errno = 0;
    long v = strtol(p, &end, 10);
    if (errno || end == p || v < 0 || v > 3600000 || (i < 2 ? *end != ',' : *end != '\0'))
      return hx_err_set(err, HX_ECONFIG, "HEIMDEX_MOCK_STAGE_MS must be three comma-separated millisecond counts (extracting,analyzing,indexing)");
    c->mock_stage_ms[i] = (int)v;
    p = end + 1;
  }
  if ((rc = get_bool("HEIMDEX_SYNC", 1, &c->sync_commit, err))) return rc;

  if ((rc = get_str("DATABASE_URL", "", c->database_url, sizeof c->database_url, err))) return rc;
  const char *pghost = getenv("PGHOST");
  c->use_pg = c->database_url[0] || (pghost && *pghost);
  if ((rc = get_str("REDIS_URL", "", c->redis_url, sizeof c->redis_url, err))) return rc;
  if (c->redis_url[0] && strncmp(c->redis_url, "redis://", 8) != 0)
    return hx_err_set(err, HX_ECONFIG, "REDIS_URL=%s must start with redis://", c->redis_url);
  long vis;
  if ((rc = get_int("HEIMDEX_QUEUE_VISIBILITY_MS", 300000, 100, 86400000, &vis, err))) return rc;
  c->queue_visibility_ms = vis;
  /* readiness checks what this deployment uses unless told otherwise */
  if ((rc = get_bool("ENABLE_PG", c->use_pg, &c->enable_pg, err))) return rc;
  if ((rc = get_bool("ENABLE_REDIS", c->redis_url[0] != '\0', &c->enable_redis, err))) return rc;
  if ((rc = get_str("QDRANT_URL", "", c->qdrant_url, sizeof c->qdrant_url, err))) return rc;
  if ((rc = get_bool("ENABLE_QDRANT", c->qdrant_url[0] != '\0', &c->enable_qdrant, err))) return rc;
  if ((rc = get_bool("ENABLE_GCS", 0, &c->enable_gcs, err))) return rc;
  if ((rc = get_str("QDRANT_API_KEY", "", c->qdrant_api_key, sizeof c->qdrant_api_key, err))) return rc;
  INT("HEIMDEX_QDRANT_TIMEOUT_MS", 30000, 100, 600000, qdrant_timeout_ms);
  if (c->enable_qdrant && !c->qdrant_url[0]) snprintf(c->qdrant_url, sizeof c->qdrant_url, "http://localhost:6333");
  if (c->enable_redis && !c->redis_url[0]) snprintf(c->redis_url_probe, sizeof c->redis_url_probe, "redis://localhost:6379/0");
  else snprintf(c->redis_url_probe, sizeof c->redis_url_probe, "%s", c->redis_url);
  if (c->redis_url[0] && !c->use_pg)
    return hx_err_set(err, HX_ECONFIG, "REDIS_URL needs the PostgreSQL ledger (DATABASE_URL or PGHOST): the embedded"
                                       " ledger serves one process");

  if ((rc = get_str("HEIMDEX_MODELS_DIR", "./models", c->models_dir, sizeof c->models_dir, err))) return rc;
  if ((rc = get_str("EMBEDDING_MODEL_NAME", "", c->embedding_model, sizeof c->embedding_model, err))) return rc;
  INT("HEIMDEX_MAX_BATCH_SEGMENTS", 10000, 1, 1000000, max_batch_segments);

  char lvl[16];
  if ((rc = get_str("HEIMDEX_LOG_LEVEL", "info", lvl, sizeof lvl, err))) return rc;
  if (!strcasecmp(lvl, "debug")) c->log_level = HX_LOG_DEBUG;
  else if (!strcasecmp(lvl, "info")) c->log_level = HX_LOG_INFO;
  else if (!strcasecmp(lvl, "warn") || !strcasecmp(lvl, "warning")) c->log_level = HX_LOG_WARN;
  else if (!strcasecmp(lvl, "error")) c->log_level = HX_LOG_ERROR;
  else return hx_err_set(err, HX_ECONFIG, "HEIMDEX_LOG_LEVEL=%s is not one of debug, info, warn, error", lvl);
  return 0;
}
