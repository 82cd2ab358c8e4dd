/*
 * config.h - the effective configuration, read once from the environment.
 *
 * Names and defaults are the original service's (HEIMDEX_ENV, VECTOR_SIZE,
 * AUTH_*, DEV_JWT_SECRET, ENABLE_*, PROBE_*, OUTBOX_DISPATCH_INTERVAL_MS, ...)
 * plus our own HEIMDEX_*. hx_config_load validates everything and fails with
 * one clear line naming the variable.
 */
#ifndef HX_UTIL_CONFIG_H
#define HX_UTIL_CONFIG_H

#include "util/err.h"

typedef struct hx_config {
  char env[32];               /* HEIMDEX_ENV: local | dev | staging | prod (default local) */
  char listen_host[64];       /* HEIMDEX_LISTEN host (default 127.0.0.1) */
  int listen_port;            /* HEIMDEX_LISTEN port (default 8000) */
  char data_dir[512];         /* HEIMDEX_DATA_DIR (default ./data) */
  int vector_size;            /* VECTOR_SIZE (384) */
  char auth_provider[16];     /* AUTH_PROVIDER: dev | supabase */
  char dev_jwt_secret[256];   /* DEV_JWT_SECRET (the original's default "local-dev-secret") */
  char auth_issuer[256];      /* AUTH_ISSUER */
  char auth_audience[256];    /* AUTH_AUDIENCE */
  char supabase_jwks_url[512];/* SUPABASE_JWKS_URL: https://... , file://... or a path */
  char auth_alg[8];           /* AUTH_JWT_ALG: the one algorithm accepted (dev: HS256; supabase: RS256 | ES256) */
  int auth_leeway_sec;        /* AUTH_JWT_LEEWAY_SEC: clock skew allowed on exp/nbf/iat (dev 0, supabase 30) */
  int jwks_ttl_sec;           /* HEIMDEX_JWKS_TTL_SEC (600): keys are refetched after */
  int jwks_refetch_sec;       /* HEIMDEX_JWKS_REFETCH_SEC (30): an unknown kid refetches at most this often */
  int jwks_timeout_ms;        /* HEIMDEX_JWKS_TIMEOUT_MS (3000): whole-fetch timeout */
  int outbox_interval_ms;     /* OUTBOX_DISPATCH_INTERVAL_MS (500) */
  int outbox_batch;           /* HEIMDEX_OUTBOX_BATCH (100) */
  int outbox_retention_sec;   /* HEIMDEX_OUTBOX_RETENTION_SEC (3600): outbox rows no longer needed are pruned after this */
  int enable_pg, enable_redis, enable_qdrant, enable_gcs;  /* ENABLE_*: default on for the backends in use */
  int probe_timeout_ms, probe_retries, probe_cache_sec, probe_cooldown_sec; /* PROBE_* */
  int workers;                /* HEIMDEX_WORKERS: worker threads (2) */
  int worker_batch;           /* HEIMDEX_WORKER_BATCH: messages a worker takes at once (64) */
  int http_threads;           /* HEIMDEX_HTTP_THREADS (16): handlers may block on a commit */
  long max_body_bytes;        /* HEIMDEX_MAX_BODY_BYTES (1 MiB) */
  int job_max_retries;        /* HEIMDEX_JOB_MAX_RETRIES (3) */
  int retry_min_ms, retry_max_ms; /* HEIMDEX_RETRY_MIN_MS (1000), HEIMDEX_RETRY_MAX_MS (60000) */
  int mock_stage_ms[3];       /* HEIMDEX_MOCK_STAGE_MS "2000,3000,1000": process_mock stages */
  int sync_commit;            /* HEIMDEX_SYNC: 1 = fsync every commit (default), 0 = OS decides */
  int log_level;              /* HEIMDEX_LOG_LEVEL debug|info|warn|error */
  char database_url[1024];    /* DATABASE_URL: PostgreSQL ledger ("" and no PGHOST: SQLite in the data dir) */
  int use_pg;                 /* DATABASE_URL or PGHOST set */
  char redis_url[512];        /* REDIS_URL: Redis Streams queue ("" = in-process) */
  char redis_url_probe[512];  /* what /readyz pings: REDIS_URL, or the original's default when ENABLE_REDIS alone */
  char qdrant_url[512];       /* QDRANT_URL */
  char qdrant_api_key[256];   /* QDRANT_API_KEY: sent as the `api-key` header ("" = none) */
  int qdrant_timeout_ms;      /* HEIMDEX_QDRANT_TIMEOUT_MS (30000): a whole Qdrant request (connect: 2 s) */
  char models_dir[512];       /* HEIMDEX_MODELS_DIR (./models): Hugging Face model directories */
  char embedding_model[64];   /* EMBEDDING_MODEL_NAME: the default model ("" = minilm-l6-v2 if installed, else lexical) */
  int max_batch_segments;     /* HEIMDEX_MAX_BATCH_SEGMENTS (10000): segments per /vectors/embed/batch */
  long max_upload_bytes;      /* HEIMDEX_MAX_UPLOAD_BYTES (10 MiB): one POST /assets file, 413 past it */
  int chunk_tokens;           /* HEIMDEX_CHUNK_TOKENS (256): chunk size for models without a token limit */
  long queue_visibility_ms;   /* HEIMDEX_QUEUE_VISIBILITY_MS (300000): unacked deliveries are reclaimed after */
} hx_config;

int hx_config_load(hx_config *c, hx_err *err);

/* The effective configuration as JSON, secrets masked ("***", URL passwords
 * replaced). A new reference. */
struct json_t;
struct json_t *hx_config_json(const hx_config *c);

#endif
