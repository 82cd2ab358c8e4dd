/*
 * ratelimit.h - per-organisation token buckets by route class.
 *
 * Classes: embed (POST /vectors/mock, /vectors/embed*), search, upload, jobs
 * (POST /jobs). Each is configured as HEIMDEX_RATE_LIMIT_<CLASS>="RATE,BURST"
 * (requests per second, bucket size); unset or 0 = unlimited. A request over
 * the limit gets 429 {"detail": "..."} with Retry-After (whole seconds).
 * Without Redis the buckets live in this process (a limit applies per API
 * process; idle full buckets are dropped when the table grows past its cap).
 * With REDIS_URL they live in Redis (hash heimdex:rl:<class>:<org>, updated by
 * one Lua script using Redis's clock), so all API processes share one limit;
 * if Redis cannot be reached the request is let through (fail open) rather
 * than refusing every tenant.
 */
#ifndef HX_API_RATELIMIT_H
#define HX_API_RATELIMIT_H

#include "util/err.h"

typedef enum { HX_RL_EMBED, HX_RL_SEARCH, HX_RL_UPLOAD, HX_RL_JOBS, HX_RL_NCLASSES } hx_rl_class;

typedef struct hx_ratelimit hx_ratelimit;

/* Reads HEIMDEX_RATE_LIMIT_*; HX_ECONFIG with a clear message on a bad value.
 * redis_url: "" for process-local buckets. */
int hx_ratelimit_new(const char *redis_url, hx_ratelimit **out, hx_err *err);
void hx_ratelimit_free(hx_ratelimit *r);

/* 1 = allowed; 0 = refused, *retry_after_s = seconds until a token is back. */
int hx_ratelimit_take(hx_ratelimit *r, const char *org, hx_rl_class cls, double now, double *retry_after_s);

const char *hx_rl_class_name(hx_rl_class cls);
/* The configured rate of a class (requests/s), 0 = unlimited. */
double hx_ratelimit_rate(const hx_ratelimit *r, hx_rl_class cls);

#endif
