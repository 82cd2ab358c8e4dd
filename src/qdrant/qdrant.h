/*
 * qdrant.h - a Qdrant-compatible REST API over the built-in engine.
 *
 * Why it exists: teams that know Qdrant's API (and its official clients) can
 * point them at heimdex's built-in engine for development and single-node
 * deployments, and a second heimdex can use this one as its QDRANT_URL. The
 * API is served by `heimdex serve` on its own listener when
 * HEIMDEX_QDRANT_LISTEN=host:port is set (off by default), over the SAME engine
 * database heimdex itself uses (DATA/vec), so heimdex's collections are
 * visible.
 *
 * Paths, bodies, responses, status codes and error shapes follow Qdrant
 * v1.19.0's published schema (../shared/qdrant/openapi.json): the envelope
 * {"result", "status":"ok", "time"} and errors {"status":{"error"}, "time"}.
 *
 * Tenancy: Qdrant's API has no tenant, the engine always names one. Every
 * point written or read through this API lives in the fixed tenant
 * HX_QDRANT_TENANT ("_qdrant"); heimdex's own points (tenant = org id) are
 * never visible through it, and the collection's points_count reports the
 * "_qdrant" tenant only.
 *
 * Auth: when HEIMDEX_QDRANT_API_KEY is set, every request needs it in the
 * `api-key` header (or `Authorization: Bearer <key>`), as Qdrant's api_key.
 */
#ifndef HX_QDRANT_QDRANT_H
#define HX_QDRANT_QDRANT_H

#include <stddef.h>

#include "http/server.h"
#include "util/err.h"

struct hx_vec;

#define HX_QDRANT_TENANT "_qdrant"
#define HX_QDRANT_VERSION "1.19.0"

/* What the handlers need: the engine (borrowed) and the optional api key. */
typedef struct hx_qdrant_app {
  struct hx_vec *db;
  char api_key[256];             /* "" = no key required */
} hx_qdrant_app;

/* The route table (terminated by {NULL}); app of every handler is an hx_qdrant_app. */
extern const hx_route hx_qdrant_routes[];

typedef struct hx_qdrant hx_qdrant;

/* Qdrant's default request size limit (service.max_request_size_mb = 32). */
#define HX_QDRANT_MAX_BODY ((long)32 << 20)

/* Reads HEIMDEX_QDRANT_LISTEN and HEIMDEX_QDRANT_API_KEY. Unset listen: *out =
 * NULL and 0. Otherwise starts the listener over db (borrowed; must outlive
 * the server). A bad address fails with HX_ECONFIG and one clear message. */
int hx_qdrant_start(struct hx_vec *db, int threads, long max_body, hx_qdrant **out, hx_err *err);
int hx_qdrant_port(hx_qdrant *q);
void hx_qdrant_quiesce(hx_qdrant *q);   /* accepts NULL */
void hx_qdrant_stop(hx_qdrant *q);      /* accepts NULL */

#endif
