/*
 * server.h - the HTTP layer: libmicrohttpd (one epoll I/O thread), a route
 * table with {param} segments, bodies collected up to a hard cap (413 past
 * it) or streamed to the route (uploads), JSON responses, and one log line per request
 * ({"msg":"http_request","method","path","status_code","duration_ms","request_id"}).
 *
 * Handlers run on a pool of HEIMDEX_HTTP_THREADS threads fed first come
 * first served, and may block (e.g. on a durable commit).
 */
#ifndef HX_HTTP_SERVER_H
#define HX_HTTP_SERVER_H

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"

#define HX_ROUTE_MAX_PARAMS 4

typedef struct hx_req {
  const char *method;
  const char *path;              /* without the query string */
  const char *body;              /* NUL-terminated; NULL when there was none */
  size_t body_len;
  const char *params[HX_ROUTE_MAX_PARAMS];  /* {param} captures, URL-decoded by MHD */
  char request_id[64];
  void *conn;                    /* struct MHD_Connection * */
  struct hx_http *server;        /* the server that took it (hx_http_load) */
} hx_req;

typedef struct hx_resp {
  int status;
  json_t *json;                  /* owned; serialised compactly */
  char *raw;                     /* owned alternative to json (e.g. text/plain) */
  size_t raw_len;
  const char *content_type;      /* default application/json */
  char extra_header[2][128];     /* "Name: value" lines, "" when unused */
} hx_resp;

typedef void (*hx_handler)(void *app, hx_req *req, hx_resp *resp);

/* A route whose body is handed over piece by piece instead of collected
 * (uploads: never whole in memory, no max_body cap). begin runs once the
 * headers are in (req->body is NULL), data for each piece as it arrives, end
 * after the last one. begin or data returning non-zero means resp is already
 * filled: the rest of the body is read and dropped, then resp is answered.
 * release frees *state on every path (connection closed early included). */
typedef struct hx_stream_handler {
  int (*begin)(void *app, hx_req *req, hx_resp *resp, void **state);
  int (*data)(void *state, const char *data, size_t n, hx_resp *resp);
  void (*end)(void *state, hx_req *req, hx_resp *resp);
  void (*release)(void *state);
} hx_stream_handler;

typedef struct hx_route {
  const char *method;
  const char *pattern;           /* e.g. "/jobs/{job_id}" */
  hx_handler handler;            /* NULL when stream is set */
  const hx_stream_handler *stream; /* NULL = body collected up to max_body */
} hx_route;

typedef struct hx_http hx_http;

typedef struct hx_http_opts {
  const char *host;
  int port;                      /* 0 = ephemeral */
  int threads;
  long max_body;
  const hx_route *routes;        /* borrowed, terminated by {NULL} */
  void *app;
  /* Writes the body of the layer's own errors (404 no route, 405, 413) in the
   * listener's error shape; NULL = {"detail": msg}. */
  void (*error_body)(hx_resp *r, int status, const char *msg);
} hx_http_opts;

int hx_http_start(const hx_http_opts *o, hx_http **out, hx_err *err);
int hx_http_port(hx_http *h);
/* Stop accepting new connections (for graceful shutdown). */
void hx_http_quiesce(hx_http *h);
/* Answers what was accepted (handlers finish, queued requests are handled
 * and their answers sent, for at most 5 s), then closes. Accepts NULL. */
void hx_http_stop(hx_http *h);
/* Requests waiting for a handler thread, and requests handed over and not
 * yet answered (waiting ones included): the /metrics gauges. */
void hx_http_load(hx_http *h, size_t *queued, size_t *inflight);

const char *hx_req_header(hx_req *r, const char *name);
/* A query-string argument (URL-decoded by MHD), NULL when absent. */
const char *hx_req_query(hx_req *r, const char *name);

/* Response helpers. */
void hx_resp_json(hx_resp *r, int status, json_t *body /* stolen */);
void hx_resp_detail(hx_resp *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void hx_resp_err(hx_resp *r, const hx_err *e);   /* status from e->status or the code */

#endif
