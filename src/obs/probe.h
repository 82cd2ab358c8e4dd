/*
 * probe.h - readiness probes of the original /readyz.
 *
 * One entry per dependency (pg, redis, qdrant, gcs):
 *   {enabled, skipped, ok, latency_ms, attempts, reason}
 * A disabled dependency answers {false, true, null, null, 0, "disabled"}.
 * An enabled one is probed with PROBE_TIMEOUT_MS per attempt and up to
 * PROBE_RETRIES retries with the original's backoff (100 ms * 2^attempt, capped
 * at 200 ms, ±20% jitter); a success is cached PROBE_CACHE_SEC, a failure
 * PROBE_COOLDOWN_SEC. Every attempt is bounded by the timeout, so a dead
 * dependency never hangs the request.
 */
#ifndef HX_OBS_PROBE_H
#define HX_OBS_PROBE_H

#include <jansson.h>

#include "util/config.h"

typedef struct hx_probes hx_probes;

hx_probes *hx_probes_new(const hx_config *cfg);   /* cfg borrowed for the lifetime */
void hx_probes_free(hx_probes *p);

/* The entry for dep ("pg", "redis", "qdrant", "gcs"); a new reference. */
json_t *hx_probes_check(hx_probes *p, const char *dep);

/* Single attempts (exposed for tests): 1 = ok; reason gets the failure word. */
int hx_probe_pg_once(const char *conninfo, int timeout_ms, char reason[64]);
int hx_probe_redis_once(const char *url, int timeout_ms, char reason[64]);
int hx_probe_http_once(const char *url, const char *api_key, int timeout_ms, char reason[64]); /* GET url/ */

#endif
