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
 * A refused connection is closed at accept; the others keep being served.
 *
 * Threads: one MHD I/O thread reads and writes every connection (epoll). A
 * request whose body is in is suspended and queued; a pool of
 * HEIMDEX_HTTP_THREADS handler threads takes requests first come first
 * served, builds the response and resumes the connection. Handlers may block
 * (a durable commit) without stalling other connections, and no connection is
 * tied to a thread: with MHD's own thread pool a thread that happened to
 * accept more keep-alive connections served each of them less often, which
 * spread latency under load (bench/search p99 2-5x the median). Upload
 * streams run begin/data on the I/O thread (they only write to a spool file)
 * and end on the pool.
 *
 * Every request passes through the I/O thread twice, so it must not queue for
 * a core behind the handlers: they run at nice HX_HTTP_HANDLER_NICE (a third
 * of its scheduler weight each). At equal weight, 16 busy handlers left it
 * 1/17 of the CPU while it needs about a third of a core at 4,000 req/s, and
 * every request waited whenever it was preempted (bench/search p99 22-32 ms
 * against 13-15 ms with the handlers at nice 5, same run length). */
#define HX_HTTP_HANDLER_NICE 5
#include "http/server.h"
#include "util/buf.h"
#include "util/json.h"
#include "obs/metrics.h"
#include "util/log.h"
#include "util/uuid.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct conn_ctx conn_ctx;

struct hx_http {
  struct MHD_Daemon *d;
  hx_http_opts o;
  int port;
  /* requests whose body is in, first come first served by the handler pool */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  conn_ctx *head, *tail;
  size_t queued;               /* requests waiting for a handler thread */
  size_t inflight;             /* handed to a handler and not yet completed (answered or closed) */
  int stopping;                /* no more queueing: the I/O thread serves inline */
  int nworkers;
  pthread_t *workers;
};

struct conn_ctx {
  hx_buf body;
  int too_big;
  double t0;
  struct MHD_Connection *c;
  conn_ctx *next;             /* in the handler queue */
  struct MHD_Response *ready; /* built by a handler thread, queued by the I/O thread */
  int served;                 /* handler has run (ready is its response) */
  int counted;                /* in h->inflight */
  const char *pattern;        /* route that answered, for the access log */
  /* a streamed route (rt->stream): its request, state and response live here */
  const hx_route *rt;
  void *st;
  int failed;                 /* resp already filled by begin/data: drop the rest */
  hx_req req;
  hx_resp resp;
  char *own[HX_ROUTE_MAX_PARAMS];
};

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

/* The MHD response for r (takes r->raw); NULL when out of memory. */
static struct MHD_Response *build_resp(hx_req *req, hx_resp *r) {
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
  if (!resp) {
    free(body);
    return NULL;
  }
  MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "application/json");
  MHD_add_response_header(resp, "X-Request-Id", req->request_id);
  for (int i = 0; i < 2; i++) {
    char *colon = r->extra_header[i][0] ? strchr(r->extra_header[i], ':') : NULL;
    if (!colon) continue;
    *colon = '\0';
    MHD_add_response_header(resp, r->extra_header[i], colon + 2);
  }
  return resp;
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

/* Run the request's handler and build its response: on a handler thread, or
 * inline on the I/O thread once the server stops. */
static void serve(hx_http *h, conn_ctx *cc) {
  if (cc->rt) {
    if (!cc->failed) cc->rt->stream->end(cc->st, &cc->req, &cc->resp);
    cc->pattern = cc->rt->pattern;
  } else if (cc->too_big) {
    char msg[96];
    snprintf(msg, sizeof msg, "Request body too large (limit %ld bytes)", h->o.max_body);
    layer_error(h, &cc->resp, 413, msg);
    /* the rest of an oversized body is not read: close the connection after answering */
    snprintf(cc->resp.extra_header[1], sizeof cc->resp.extra_header[1], "Connection: close");
    cc->pattern = "too_large";
  } else {
    cc->req.body = cc->body.data;
    cc->req.body_len = cc->body.len;
    cc->pattern = route(h, &cc->req, &cc->resp);
  }
  cc->ready = build_resp(&cc->req, &cc->resp);
  cc->served = 1;
}

/* Hand a complete request to the handler pool (its connection is suspended
 * until a handler thread has built the response); 0 when the pool is gone. */
static int enqueue(hx_http *h, conn_ctx *cc) {
  pthread_mutex_lock(&h->mu);
  int ok = !h->stopping && h->nworkers > 0;
  cc->counted = 1;
  h->inflight++;
  if (ok) {
    h->queued++;
    MHD_suspend_connection(cc->c);
    cc->next = NULL;
    if (h->tail) h->tail->next = cc;
    else h->head = cc;
    h->tail = cc;
    pthread_cond_signal(&h->cv);
  }
  pthread_mutex_unlock(&h->mu);
  return ok;
}

static void *handler_thread(void *arg) {
  hx_http *h = arg;
  /* below the I/O thread in the scheduler's eyes: see the top of the file */
  (void)setpriority(PRIO_PROCESS, (id_t)gettid(), HX_HTTP_HANDLER_NICE);
  pthread_mutex_lock(&h->mu);
  for (;;) {
    while (!h->head && !h->stopping) pthread_cond_wait(&h->cv, &h->mu);
    conn_ctx *cc = h->head;
    if (!cc) break;                       /* stopping, and the queue is drained */
    h->head = cc->next;
    if (!h->head) h->tail = NULL;
    h->queued--;
    pthread_mutex_unlock(&h->mu);
    serve(h, cc);
    MHD_resume_connection(cc->c);         /* MHD calls on_request again: it queues cc->ready */
    pthread_mutex_lock(&h->mu);
  }
  pthread_mutex_unlock(&h->mu);
  return NULL;
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
    cc->c = c;
    cc->resp.status = 500;
    *con_cls = cc;
    cc->req = (hx_req){.method = method, .path = url, .conn = c, .server = h};
    set_request_id(c, &cc->req);
    if ((cc->rt = stream_route(h, cc))) {
      if (cc->rt->stream->begin(h->o.app, &cc->req, &cc->resp, &cc->st)) cc->failed = 1;
      return MHD_YES;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoll(cl, NULL, 10) > h->o.max_body) cc->too_big = 1;
    return MHD_YES;
  }
  if (*upload_size) {
    if (cc->rt) {
      if (!cc->failed && cc->rt->stream->data(cc->st, upload, *upload_size, &cc->resp)) cc->failed = 1;
    } else if (!cc->too_big && hx_buf_add(&cc->body, upload, *upload_size)) {
      cc->too_big = 1;
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (!cc->served) {
    if (enqueue(h, cc)) return MHD_YES;
    serve(h, cc);
  }
  if (!cc->ready) return MHD_NO;        /* out of memory: close the connection */
  enum MHD_Result ret = MHD_queue_response(c, (unsigned)cc->resp.status, cc->ready);
  MHD_destroy_response(cc->ready);
  cc->ready = NULL;
  access_log(&cc->req, cc->pattern, cc->resp.status, cc->t0);
  return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
  hx_http *h = cls;
  conn_ctx *cc = *con_cls;
  if (!cc) return;
  if (cc->counted) {
    pthread_mutex_lock(&h->mu);
    if (--h->inflight == 0) pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
  }
  if (cc->rt && cc->rt->stream->release) cc->rt->stream->release(cc->st);
  for (int i = 0; i < HX_ROUTE_MAX_PARAMS; i++) free(cc->own[i]);
  json_decref(cc->resp.json);
  free(cc->resp.raw);
  if (cc->ready) MHD_destroy_response(cc->ready);
  hx_buf_release(&cc->body);
  free(cc);
  *con_cls = NULL;
}

/* Let the pool drain the queue and exit; requests completing after this are
 * served on the I/O thread. */
static void stop_workers(hx_http *h) {
  pthread_mutex_lock(&h->mu);
  h->stopping = 1;
  pthread_cond_broadcast(&h->cv);
  pthread_mutex_unlock(&h->mu);
  for (int i = 0; i < h->nworkers; i++) pthread_join(h->workers[i], NULL);
  h->nworkers = 0;
  free(h->workers);
  h->workers = NULL;
}

static void http_free(hx_http *h) {
  pthread_mutex_destroy(&h->mu);
  pthread_cond_destroy(&h->cv);
  free(h);
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
  pthread_mutex_init(&h->mu, NULL);
  pthread_cond_init(&h->cv, NULL);
  h->workers = calloc((size_t)(o->threads > 0 ? o->threads : 1), sizeof *h->workers);
  for (int i = 0; h->workers && i < o->threads; i++) {
    if (pthread_create(&h->workers[i], NULL, handler_thread, h)) break;
    pthread_setname_np(h->workers[i], "hx-http");
    h->nworkers++;
  }
  if (h->nworkers < o->threads) {
    stop_workers(h);
    http_free(h);
    return hx_err_set(err, HX_ENOMEM, "cannot start %d HTTP handler threads", o->threads);
  }
  /* one I/O thread reads and writes every connection; handlers run on the pool */
  h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME |
                              MHD_USE_ERROR_LOG, 0, NULL, NULL,
                          on_request, h,
                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                          MHD_OPTION_CONNECTION_TIMEOUT, timeout,
                          MHD_OPTION_CONNECTION_LIMIT, max_conn,
                          MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
                          MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                          MHD_OPTION_END);
  if (!h->d) {
    stop_workers(h);
    http_free(h);
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

void hx_http_load(hx_http *h, size_t *queued, size_t *inflight) {
  pthread_mutex_lock(&h->mu);
  if (queued) *queued = h->queued;
  if (inflight) *inflight = h->inflight;
  pthread_mutex_unlock(&h->mu);
}

void hx_http_stop(hx_http *h) {
  if (!h) return;
  stop_workers(h);   /* every queued request is handled; later ones are served inline */
  /* and sent: MHD closes every connection at stop, answered or not (bounded:
   * a client that does not read its answer is not waited for long) */
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 5;
  pthread_mutex_lock(&h->mu);
  while (h->inflight && pthread_cond_timedwait(&h->cv, &h->mu, &until) == 0) {}
  pthread_mutex_unlock(&h->mu);
  MHD_stop_daemon(h->d);
  http_free(h);
}
