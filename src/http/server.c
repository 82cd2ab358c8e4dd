/* server.c - libmicrohttpd glue: routing, body limits, JSON responses, access log.
 *
 * Slow and greedy clients: MHD is event-driven, so a connection that trickles
 * bytes holds no pool thread, only a connection slot and its header memory
 * (MHD's per-connection limit). Slots are bounded three ways, read here from
 * the environment because they are properties of this layer alone:
 *   HEIMDEX_HTTP_TIMEOUT_SEC (30)          a connection idle this long is closed
 *   HEIMDEX_HTTP_MAX_CONNECTIONS (4096)    all connections
 *   HEIMDEX_HTTP_PER_IP_CONNECTIONS (256)  from one client address (0 = no limit;
 *                                          behind a proxy every client is one address)
 * A refused connection is closed at accept; the others keep being served. */
#include "http/server.h"
#include "util/buf.h"
#include "util/json.h"
#include "obs/metrics.h"
#include "util/log.h"
#include "util/uuid.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct hx_http {
  struct MHD_Daemon *d;
  hx_http_opts o;
  int port;
};

typedef struct conn_ctx {
  hx_buf body;
  int too_big;
  double t0;
  /* a streamed route (rt->stream): its request, state and response live here */
  const hx_route *rt;
  void *st;
  int failed;                 /* resp already filled by begin/data: drop the rest */
  hx_req req;
  hx_resp resp;
  char *own[HX_ROUTE_MAX_PARAMS];
} conn_ctx;

void hx_resp_json(hx_resp *r, int status, json_t *body) {
  json_decref(r->json);
  r->status = status;
  r->json = body;
}

void hx_resp_detail(hx_resp *r, int status, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  hx_resp_json(r, status, json_pack("{s:s}", "detail", msg));
}

void hx_resp_err(hx_resp *r, const hx_err *e) {
  if (e->code == HX_EUNAVAIL) {
    /* a dependency is down: say so plainly (the cause goes to the log), and when to retry */
    hx_log(HX_LOG_WARN, "dependency_unavailable", json_pack("{s:s}", "error", e->msg));
    hx_resp_detail(r, 503, "Service temporarily unavailable: a backing store cannot be reached; retry shortly");
    snprintf(r->extra_header[1], sizeof r->extra_header[1], "Retry-After: 1");
    return;
  }
  int st = e->status ? e->status : hx_err_http_status(e->code);
  hx_resp_detail(r, st, "%s", e->msg[0] ? e->msg : hx_strerror(e->code));
}

const char *hx_req_header(hx_req *r, const char *name) {
  return MHD_lookup_connection_value((struct MHD_Connection *)r->conn, MHD_HEADER_KIND, name);
}

const char *hx_req_query(hx_req *r, const char *name) {
  return MHD_lookup_connection_value((struct MHD_Connection *)r->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* Match path against pattern; fills params (pointing into scratch). */
static int match(const char *pattern, const char *path, hx_req *req, char *scratch, size_t cap) {
  size_t used = 0;
  int np = 0;
  const char *p = pattern, *s = path;
  while (*p && *s) {
    if (*p == '{') {
      const char *pe = strchr(p, '}');
      const char *se = strchr(s, '/');
      if (!se) se = s + strlen(s);
      size_t len = (size_t)(se - s);
      if (len == 0 || np == HX_ROUTE_MAX_PARAMS || used + len + 1 > cap) return 0;
      memcpy(scratch + used, s, len);
      scratch[used + len] = '\0';
      req->params[np++] = scratch + used;
      used += len + 1;
      p = pe + 1;
      s = se;
    } else {
      if (*p != *s) return 0;
      p++;
      s++;
    }
  }
  return *p == '\0' && *s == '\0';
}

static enum MHD_Result send_resp(struct MHD_Connection *c, hx_req *req, hx_resp *r) {
  char *body;
  size_t len;
  if (r->raw) {
    body = r->raw;
    len = r->raw_len;
    r->raw = NULL;
  } else {
    hx_buf b;
    hx_buf_init(&b, (size_t)1 << 30);
    if (hx_json_dump(r->json ? r->json : json_null(), 0, &b) != 0) {
      hx_buf_reset(&b);
      hx_buf_adds(&b, "{\"detail\":\"response could not be encoded\"}");
      r->status = 500;
    }
    body = hx_buf_steal(&b, &len);
  }
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "application/json");
  MHD_add_response_header(resp, "X-Request-Id", req->request_id);
  for (int i = 0; i < 2; i++) {
    char *colon = r->extra_header[i][0] ? strchr(r->extra_header[i], ':') : NULL;
    if (!colon) continue;
    *colon = '\0';
    MHD_add_response_header(resp, r->extra_header[i], colon + 2);
  }
  enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static void set_request_id(struct MHD_Connection *c, hx_req *req) {
  const char *in = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
  size_t n = in ? strlen(in) : 0;
  int ok = n > 0 && n < sizeof req->request_id;
  for (size_t i = 0; ok && i < n; i++)
    if (!(in[i] == '-' || in[i] == '_' || in[i] == '.' || (in[i] >= '0' && in[i] <= '9') ||
          (in[i] >= 'a' && in[i] <= 'z') || (in[i] >= 'A' && in[i] <= 'Z'))) ok = 0;
  if (ok) {
    memcpy(req->request_id, in, n + 1);
  } else {
    hx_uuid u;
    hx_uuid_v4(&u);
    hx_uuid_str(&u, req->request_id);
  }
}

/* An error of the HTTP layer itself, in the listener's error shape. */
static void layer_error(hx_http *h, hx_resp *resp, int status, const char *msg) {
  if (h->o.error_body) h->o.error_body(resp, status, msg);
  else hx_resp_detail(resp, status, "%s", msg);
}

static const char *route(hx_http *h, hx_req *req, hx_resp *resp) {
  char scratch[2048];
  int path_matched = 0;
  char allow[96] = "";
  for (const hx_route *rt = h->o.routes; rt->method; rt++) {
    memset(req->params, 0, sizeof req->params);
    if (!match(rt->pattern, req->path, req, scratch, sizeof scratch)) continue;
    if (strcmp(rt->method, req->method) == 0 && rt->handler) {
      /* params point into scratch: copy them into the request's lifetime */
      char *own[HX_ROUTE_MAX_PARAMS] = {0};
      for (int i = 0; i < HX_ROUTE_MAX_PARAMS && req->params[i]; i++) req->params[i] = own[i] = strdup(req->params[i]);
      rt->handler(h->o.app, req, resp);
      for (int i = 0; i < HX_ROUTE_MAX_PARAMS; i++) free(own[i]);
      return rt->pattern;
    }
    path_matched = 1;
    if (strlen(allow) + strlen(rt->method) + 3 < sizeof allow) {
      if (allow[0]) strcat(allow, ", ");
      strcat(allow, rt->method);
    }
  }
  if (path_matched) {
    snprintf(resp->extra_header[0], sizeof resp->extra_header[0], "Allow: %s", allow);
    layer_error(h, resp, 405, "Method Not Allowed");
    return "method_not_allowed";
  }
  layer_error(h, resp, 404, "Not Found");
  return "unmatched";
}

/* The streamed route for method + path, with its params copied into cc->own. */
static const hx_route *stream_route(hx_http *h, conn_ctx *cc) {
  char scratch[2048];
  for (const hx_route *rt = h->o.routes; rt->method; rt++) {
    if (!rt->stream || strcmp(rt->method, cc->req.method)) continue;
    memset(cc->req.params, 0, sizeof cc->req.params);
    if (!match(rt->pattern, cc->req.path, &cc->req, scratch, sizeof scratch)) continue;
    for (int i = 0; i < HX_ROUTE_MAX_PARAMS && cc->req.params[i]; i++)
      cc->req.params[i] = cc->own[i] = strdup(cc->req.params[i]);
    return rt;
  }
  memset(cc->req.params, 0, sizeof cc->req.params);
  return NULL;
}

static void access_log(hx_req *req, const char *pattern, int status, double t0) {
  hx_metrics_http(pattern, req->method, status, hx_mono() - t0);
  hx_log(HX_LOG_INFO, "http_request",
         json_pack("{s:s,s:s,s:i,s:f,s:s}", "method", req->method, "path", req->path, "status_code", status,
                   "duration_ms", (hx_mono() - t0) * 1000.0, "request_id", req->request_id));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  hx_http *h = cls;
  conn_ctx *cc = *con_cls;
  if (!cc) {
    cc = calloc(1, sizeof *cc);
    if (!cc) return MHD_NO;
    hx_buf_init(&cc->body, (size_t)h->o.max_body);
    cc->t0 = hx_mono();
    *con_cls = cc;
    cc->req = (hx_req){.method = method, .path = url, .conn = c};
    if ((cc->rt = stream_route(h, cc))) {
      set_request_id(c, &cc->req);
      cc->resp.status = 500;
      if (cc->rt->stream->begin(h->o.app, &cc->req, &cc->resp, &cc->st)) cc->failed = 1;
      return MHD_YES;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoll(cl, NULL, 10) > h->o.max_body) cc->too_big = 1;
    return MHD_YES;
  }
  if (cc->rt) {
    if (*upload_size) {
      if (!cc->failed && cc->rt->stream->data(cc->st, upload, *upload_size, &cc->resp)) cc->failed = 1;
      *upload_size = 0;
      return MHD_YES;
    }
    if (!cc->failed) cc->rt->stream->end(cc->st, &cc->req, &cc->resp);
    enum MHD_Result ret = send_resp(c, &cc->req, &cc->resp);
    access_log(&cc->req, cc->rt->pattern, cc->resp.status, cc->t0);
    return ret;
  }
  if (*upload_size) {
    if (!cc->too_big && hx_buf_add(&cc->body, upload, *upload_size)) cc->too_big = 1;
    *upload_size = 0;
    return MHD_YES;
  }
  hx_req req = {.method = method, .path = url, .conn = c};
  hx_resp resp = {.status = 500};
  const char *pattern = "too_large";
  set_request_id(c, &req);
  if (cc->too_big) {
    char msg[96];
    snprintf(msg, sizeof msg, "Request body too large (limit %ld bytes)", h->o.max_body);
    layer_error(h, &resp, 413, msg);
    /* the rest of an oversized body is not read: close the connection after answering */
    snprintf(resp.extra_header[1], sizeof resp.extra_header[1], "Connection: close");
  } else {
    req.body = cc->body.data;
    req.body_len = cc->body.len;
    pattern = route(h, &req, &resp);
  }
  enum MHD_Result ret = send_resp(c, &req, &resp);
  access_log(&req, pattern, resp.status, cc->t0);
  json_decref(resp.json);
  free(resp.raw);
  return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
  conn_ctx *cc = *con_cls;
  if (!cc) return;
  if (cc->rt && cc->rt->stream->release) cc->rt->stream->release(cc->st);
  for (int i = 0; i < HX_ROUTE_MAX_PARAMS; i++) free(cc->own[i]);
  json_decref(cc->resp.json);
  free(cc->resp.raw);
  hx_buf_release(&cc->body);
  free(cc);
  *con_cls = NULL;
}

static int env_limit(const char *name, unsigned long def, unsigned long lo, unsigned long hi, unsigned *out, hx_err *err) {
  const char *v = getenv(name);
  if (!v || !*v) {
    *out = (unsigned)def;
    return 0;
  }
  char *end;
  errno = 0;
  unsigned long x = strtoul(v, &end, 10);
  if (errno || *end || end == v || *v == '-' || x < lo || x > hi)
    return hx_err_set(err, HX_ECONFIG, "%s=%s is not an integer in [%lu, %lu]", name, v, lo, hi);
  *out = (unsigned)x;
  return 0;
}

int hx_http_start(const hx_http_opts *o, hx_http **out, hx_err *err) {
  unsigned timeout = 30, max_conn = 4096, per_ip = 256;
  int rc;
  if ((rc = env_limit("HEIMDEX_HTTP_TIMEOUT_SEC", 30, 1, 3600, &timeout, err)) ||
      (rc = env_limit("HEIMDEX_HTTP_MAX_CONNECTIONS", 4096, 16, 1000000, &max_conn, err)) ||
      (rc = env_limit("HEIMDEX_HTTP_PER_IP_CONNECTIONS", 256, 0, 1000000, &per_ip, err)))
    return rc;
  hx_http *h = calloc(1, sizeof *h);
  if (!h) return hx_err_set(err, HX_ENOMEM, "out of memory");
  h->o = *o;
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)o->port);
  if (inet_pton(AF_INET, o->host, &sa.sin_addr) != 1) {
    free(h);
    return hx_err_set(err, HX_ECONFIG, "listen address %s is not an IPv4 address", o->host);
  }
  h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                          on_request, h,
                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                          MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
                          MHD_OPTION_CONNECTION_TIMEOUT, timeout,
                          MHD_OPTION_CONNECTION_LIMIT, max_conn,
                          MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
                          MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                          MHD_OPTION_END);
  if (!h->d) {
    free(h);
    return hx_err_set(err, HX_EIO, "cannot listen on %s:%d (address in use?)", o->host, o->port);
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  h->port = info ? info->port : o->port;
  *out = h;
  return 0;
}

int hx_http_port(hx_http *h) { return h->port; }

void hx_http_quiesce(hx_http *h) {
  if (h) MHD_quiesce_daemon(h->d);
}

void hx_http_stop(hx_http *h) {
  if (!h) return;
  MHD_stop_daemon(h->d);
  free(h);
}
