/*
 * jobkey.h - server-side idempotency keys of the original service.
 *
 * job_key = lowercase hex SHA-256 of "{org_uuid}:{op_type}:{stable_json(payload)}"
 * (see util/json.h for stable_json). Two requests with the same key are the
 * same job; the ledger's unique index on job_key enforces it.
 */
#ifndef HX_JOBS_JOBKEY_H
#define HX_JOBS_JOBKEY_H

#include <jansson.h>

#define HX_JOB_KEY_LEN 64

/* org: canonical org UUID string. Returns 0, HX_EINVAL (invalid UTF-8) or HX_ENOMEM. */
int hx_job_key(const char *org, const char *op_type, const json_t *payload,
               char out[HX_JOB_KEY_LEN + 1]);

/* First 16 hex chars of SHA-256(text): the original's text_hash. */
void hx_text_hash(const char *text, size_t len, char out[17]);

#endif
