/* metrics.c - a small fixed-shape registry rendered in Prometheus text format. */
#include "obs/metrics.h"
#include "util/err.h"
#include "util/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NBUCKETS 13
static const double BUCKETS[NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define MAX_SERIES 512

typedef struct {
  char family[48];
  char labels[160];        /* rendered: key="value",... */
  int is_hist;
  double count, sum;       /* counter value is count */
  double bucket[NBUCKETS]; /* cumulative at render */
} series;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static series S[MAX_SERIES];
static int nseries;

static series *find(const char *family, const char *labels, int is_hist) {
  for (int i = 0; i < nseries; i++)
    if (!strcmp(S[i].family, family) && !strcmp(S[i].labels, labels)) return &S[i];
  if (nseries == MAX_SERIES) return NULL;
  series *s = &S[nseries++];
  memset(s, 0, sizeof *s);
  snprintf(s->family, sizeof s->family, "%s", family);
  snprintf(s->labels, sizeof s->labels, "%s", labels);
  s->is_hist = is_hist;
  return s;
}

static void inc(const char *family, const char *labels) {
  pthread_mutex_lock(&mu);
  series *s = find(family, labels, 0);
  if (s) s->count += 1;
  pthread_mutex_unlock(&mu);
}

static void observe(const char *family, const char *labels, double v) {
  pthread_mutex_lock(&mu);
  series *s = find(family, labels, 1);
  if (s) {
    s->count += 1;
    s->sum += v;
    for (int b = 0; b < NBUCKETS; b++)
      if (v <= BUCKETS[b]) { s->bucket[b] += 1; break; }
  }
  pthread_mutex_unlock(&mu);
}

/* label values are fixed words chosen by the code, but escape anyway */
static void lv(char *out, size_t cap, const char *v) {
  size_t o = 0;
  for (; *v && o + 2 < cap; v++) {
    if (*v == '"' || *v == '\\') out[o++] = '\\';
    out[o++] = *v == '\n' ? ' ' : *v;
  }
  out[o] = '\0';
}

void hx_metrics_http(const char *route, const char *method, int status, double seconds) {
  char r[96], m[16], l[160];
  lv(r, sizeof r, route);
  lv(m, sizeof m, method);
  snprintf(l, sizeof l, "route=\"%s\",method=\"%s\",status=\"%d\"", r, m, status);
  inc("heimdex_http_requests_total", l);
  snprintf(l, sizeof l, "route=\"%s\",method=\"%s\"", r, m);
  observe("heimdex_http_request_duration_seconds", l, seconds);
}

void hx_metrics_job(const char *task, const char *outcome) {
  char t[64], l[160];
  lv(t, sizeof t, task);
  snprintf(l, sizeof l, "type=\"%s\",status=\"%s\"", t, outcome);
  inc("heimdex_jobs_total", l);
  if (!strcmp(outcome, "retried")) {
    snprintf(l, sizeof l, "type=\"%s\"", t);
    inc("heimdex_job_retries_total", l);
  }
}

void hx_metrics_dead_letter(const char *task) {
  char t[64], l[160];
  lv(t, sizeof t, task);
  snprintf(l, sizeof l, "type=\"%s\"", t);
  inc("heimdex_dead_letters_total", l);
}

void hx_metrics_embedding(const char *model, const char *status, double seconds) {
  char m[64], l[160];
  lv(m, sizeof m, model);
  snprintf(l, sizeof l, "status=\"%s\",model=\"%s\"", status, m);
  inc("heimdex_embeddings_total", l);
  snprintf(l, sizeof l, "model=\"%s\"", m);
  observe("heimdex_embeddings_duration_seconds", l, seconds);
}

void hx_metrics_search(const char *status, double seconds) {
  char l[160];
  snprintf(l, sizeof l, "status=\"%s\"", status);
  inc("heimdex_search_total", l);
  observe("heimdex_search_duration_seconds", "", seconds);
}

void hx_metrics_query_cache(const char *result) {
  char l[160];
  snprintf(l, sizeof l, "result=\"%s\"", result);
  inc("heimdex_query_cache_total", l);
}

void hx_metrics_rate_limited(const char *route_class) {
  char c[32], l[160];
  lv(c, sizeof c, route_class);
  snprintf(l, sizeof l, "class=\"%s\"", c);
  inc("heimdex_rate_limited_total", l);
}

void hx_metrics_db_commit(const char *db, int ops, double seconds) {
  char d[64], l[160];
  lv(d, sizeof d, db);
  snprintf(l, sizeof l, "db=\"%s\"", d);
  pthread_mutex_lock(&mu);
  series *s = find("heimdex_db_ops_total", l, 0);
  if (s) s->count += ops;
  pthread_mutex_unlock(&mu);
  observe("heimdex_db_commit_duration_seconds", l, seconds);
}

void hx_metrics_reset(void) {
  pthread_mutex_lock(&mu);
  nseries = 0;
  pthread_mutex_unlock(&mu);
}

static const struct { const char *family, *type, *help; } FAMILIES[] = {
    {"heimdex_http_requests_total", "counter", "HTTP requests by route pattern, method and status."},
    {"heimdex_http_request_duration_seconds", "histogram", "HTTP request latency by route pattern and method."},
    {"heimdex_jobs_total", "counter", "Job attempts finished, by type and outcome (succeeded, failed, retried)."},
    {"heimdex_job_retries_total", "counter", "Failed attempts that were scheduled for a retry, by type."},
    {"heimdex_dead_letters_total", "counter", "Jobs that failed for good after their last attempt, by type."},
    {"heimdex_embeddings_total", "counter", "Segments embedded, by status and model."},
    {"heimdex_embeddings_duration_seconds", "histogram", "Time to embed one segment, by model."},
    {"heimdex_search_total", "counter", "Searches, by status."},
    {"heimdex_search_duration_seconds", "histogram", "Search latency."},
    {"heimdex_query_cache_total", "counter", "Query-embedding cache lookups, by result (hit, miss)."},
    {"heimdex_rate_limited_total", "counter", "Requests refused with 429, by route class."},
    {"heimdex_db_ops_total", "counter", "Operations applied by an embedded database's group commits."},
    {"heimdex_db_commit_duration_seconds", "histogram", "Duration of an embedded database's group commits (count = commits)."},
};

static int render_family(hx_buf *out, const char *family, const char *type, const char *help) {
  int rc = hx_buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", family, help, family, type);
  for (int i = 0; i < nseries && !rc; i++) {
    series *s = &S[i];
    if (strcmp(s->family, family)) continue;
    if (!s->is_hist) {
      rc = hx_buf_addf(out, "%s{%s} %.0f\n", family, s->labels, s->count);
      continue;
    }
    double cum = 0;
    const char *sep = s->labels[0] ? "," : "";
    for (int b = 0; b < NBUCKETS && !rc; b++) {
      cum += s->bucket[b];
      rc = hx_buf_addf(out, "%s_bucket{%s%sle=\"%g\"} %.0f\n", family, s->labels, sep, BUCKETS[b], cum);
    }
    if (!rc) rc = hx_buf_addf(out, "%s_bucket{%s%sle=\"+Inf\"} %.0f\n", family, s->labels, sep, s->count);
    if (!rc) rc = hx_buf_addf(out, "%s_sum{%s} %.9g\n%s_count{%s} %.0f\n", family, s->labels, s->sum, family,
                              s->labels, s->count);
  }
  return rc;
}

int hx_metrics_render(const hx_metrics_gauges *g, hx_buf *out) {
  int rc = 0;
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < sizeof FAMILIES / sizeof FAMILIES[0] && !rc; i++)
    rc = render_family(out, FAMILIES[i].family, FAMILIES[i].type, FAMILIES[i].help);
  pthread_mutex_unlock(&mu);
  if (rc) return rc;
  size_t heap_used, heap_free;
  hx_mem_heap(&heap_used, &heap_free);
  rc = hx_buf_addf(out,
      "# HELP heimdex_process_heap_bytes Heap of this process (malloc): in use, and free but held by the allocator (sampled at most once a minute).\n"
      "# TYPE heimdex_process_heap_bytes gauge\n"
      "heimdex_process_heap_bytes{state=\"in_use\"} %zu\nheimdex_process_heap_bytes{state=\"free\"} %zu\n"
      "# HELP heimdex_sqlite_memory_bytes Memory held by the embedded SQLite databases (page caches, statements).\n"
      "# TYPE heimdex_sqlite_memory_bytes gauge\nheimdex_sqlite_memory_bytes %lld\n",
      heap_used, heap_free, g->sqlite_bytes);
  if (rc) return rc;
  return hx_buf_addf(out,
      "# HELP heimdex_http_requests_queued Requests read and waiting for a handler thread.\n"
      "# TYPE heimdex_http_requests_queued gauge\nheimdex_http_requests_queued %lld\n"
      "# HELP heimdex_http_requests_in_flight Requests handed to the handler pool and not yet answered (queued included).\n"
      "# TYPE heimdex_http_requests_in_flight gauge\nheimdex_http_requests_in_flight %lld\n"
      "# HELP heimdex_outbox_unsent Outbox rows not yet published to the queue.\n"
      "# TYPE heimdex_outbox_unsent gauge\nheimdex_outbox_unsent %lld\n"
      "# HELP heimdex_outbox_oldest_unsent_age_seconds Age of the oldest unpublished outbox row.\n"
      "# TYPE heimdex_outbox_oldest_unsent_age_seconds gauge\nheimdex_outbox_oldest_unsent_age_seconds %.3f\n"
      "# HELP heimdex_jobs_open Jobs queued or running.\n"
      "# TYPE heimdex_jobs_open gauge\nheimdex_jobs_open %lld\n"
      "# HELP heimdex_queue_depth Messages waiting in the queue (ready and delayed).\n"
      "# TYPE heimdex_queue_depth gauge\nheimdex_queue_depth %lld\n"
      "# HELP heimdex_vector_count Points in the vector store (all tenants).\n"
      "# TYPE heimdex_vector_count gauge\nheimdex_vector_count %lld\n"
      "# HELP heimdex_vector_unindexed Points accepted but not yet in the ANN graphs (searched exactly until then).\n"
      "# TYPE heimdex_vector_unindexed gauge\nheimdex_vector_unindexed %lld\n"
      "# HELP heimdex_process_resident_memory_bytes Resident memory of this process.\n"
      "# TYPE heimdex_process_resident_memory_bytes gauge\nheimdex_process_resident_memory_bytes %ld\n"
      "# HELP heimdex_uptime_seconds Seconds since this process started.\n"
      "# TYPE heimdex_uptime_seconds gauge\nheimdex_uptime_seconds %.3f\n"
      "# HELP heimdex_build_info Build information.\n"
      "# TYPE heimdex_build_info gauge\nheimdex_build_info{version=\"%s\"} 1\n",
      g->http_queued, g->http_inflight, g->outbox_unsent, g->outbox_oldest_age_s, g->jobs_open, g->queue_depth, g->vector_points, g->vector_points_unindexed,
      hx_mem_rss(),
      g->uptime_s, HX_VERSION);
}
