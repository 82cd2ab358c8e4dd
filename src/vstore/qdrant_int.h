/*
 * qdrant_int.h - the private parts of the Qdrant backend (qdrant.c) that its
 * unit tests and fuzz target reach: the parsers of what Qdrant answers. Every
 * reply is untrusted input (a wrong URL can point at any HTTP server), so each
 * parser checks the shape it reads and fails with HX_ECORRUPT naming the field,
 * never crashes and never hands out another org's data.
 */
#ifndef HX_VSTORE_QDRANT_INT_H
#define HX_VSTORE_QDRANT_INT_H

#include <jansson.h>
#include <stddef.h>

#include "vstore/vstore.h"

/* The envelope {"result", "status", "time"} of a reply with HTTP status
 * `status`. 2xx: *result = a new reference to "result" (JSON null when absent).
 * Otherwise the error text of {"status": {"error": "..."}} mapped to a code:
 * 404 HX_ENOENT, 400/422 HX_EINVAL, 409 HX_EEXIST, 413 HX_ETOOBIG, 401/403
 * HX_EUNAVAIL (the API key is refused), other 4xx HX_EBADREQ, 5xx HX_EUNAVAIL. */
int hx__qdrant_reply(const char *body, size_t len, long status, json_t **result, hx_err *err);

/* Dense dimension of GET /collections/{name}'s result (the unnamed vector). */
int hx__qdrant_coll_dim(const json_t *result, int *dim, hx_err *err);

/* "count" of POST /points/count's result. */
int hx__qdrant_count(const json_t *result, size_t *n, hx_err *err);

/* The one record of POST /points (retrieve by id) that belongs to org: its
 * dense vector (malloc'd) and payload (new reference). HX_ENOENT when the
 * result is empty or the record's payload org_id is another org's. */
int hx__qdrant_record(const json_t *result, const char *org, float **vec, int *dim, json_t **payload, hx_err *err);

/* Hits of POST /points/query's result {"points": [ScoredPoint...]} into hits
 * (room for cap). Points whose payload org_id is not org are dropped (the
 * request filters by org; this is the second lock). keep_payload = 0: the
 * payload (fetched only for that check) is not handed out. */
int hx__qdrant_hits(const json_t *result, const char *org, int keep_payload, int with_vector, hx_vhit *hits,
                    size_t cap, size_t *n, hx_err *err);

#endif
