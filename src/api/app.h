/*
 * app.h - what request handlers share: configuration, the ledger, the vector
 * store, the dispatcher to poke, and the route table.
 */
#ifndef HX_API_APP_H
#define HX_API_APP_H

#include "auth/auth.h"
#include "http/server.h"
#include "jobs/store.h"
#include "api/ratelimit.h"
#include "obs/probe.h"
#include "search/search.h"
#include "util/config.h"
#include "vstore/vstore.h"
#include "worker/models.h"
#include "worker/worker.h"

typedef struct hx_app {
  hx_config cfg;
  hx_auth_cfg auth;
  hx_ledger *ledger;
  hx_vstore *vs;
  hx_queue *queue;
  hx_dispatcher *disp;   /* NULL when this process does not dispatch */
  hx_probes *probes;     /* readiness of pg, redis, qdrant, gcs */
  hx_ratelimit *limits;  /* per-org request limits by route class */
  hx_models *models;     /* embedding models (default, checks, GET /models) */
  hx_search *search;     /* search planner + query-embedding cache */
  double started_at;
} hx_app;

extern const hx_route hx_api_routes[];

/* Authenticate the request; on failure the response is already filled. */
int hx_api_auth_or_reply(hx_app *app, hx_req *req, hx_resp *resp, hx_principal *who);

/* Take a token of the caller's org for this route class; on refusal the
 * response is already 429 with Retry-After. */
int hx_api_rate_or_reply(hx_app *app, const hx_principal *who, hx_rl_class cls, hx_resp *resp);

/* The common start of a handler that creates work: authenticate, take a rate
 * token of the class, parse the body as a JSON object. NULL = the response is
 * already filled; else the caller owns the body. */
json_t *hx_api_begin_or_reply(hx_app *app, hx_req *req, hx_resp *resp, hx_principal *who, hx_rl_class cls);

/* Create a job (job + event + outbox in one transaction, idempotent on its key)
 * and poke the dispatcher; replies 500/503 itself on failure. */
int hx_api_create_job_or_reply(hx_app *app, const hx_principal *who, const char *type, const char *task,
                               json_t *key_payload, json_t *args, json_t *kwargs, hx_resp *resp,
                               char job_id[HX_UUID_STRLEN + 1]);

#endif
