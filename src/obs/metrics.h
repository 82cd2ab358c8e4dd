/*
 * metrics.h - process-wide Prometheus metrics.
 *
 * Counters and histograms are recorded from any thread (one mutex; a record is
 * a few additions). Labels never carry ids or text: routes are the route
 * table's patterns ("/jobs/{job_id}"), job labels are task names, statuses are
 * fixed words. Gauges that live elsewhere (outbox backlog, queue depth, points,
 * memory) are read at scrape time by the caller and passed to render.
 */
#ifndef HX_OBS_METRICS_H
#define HX_OBS_METRICS_H

#include "util/buf.h"

void hx_metrics_http(const char *route, const char *method, int status, double seconds);
/* outcome: "succeeded", "failed", "retried" */
void hx_metrics_job(const char *task, const char *outcome);
void hx_metrics_dead_letter(const char *task);
/* status: "success" or "error"; seconds per embedded segment */
void hx_metrics_embedding(const char *model, const char *status, double seconds);
void hx_metrics_search(const char *status, double seconds);
/* result: "hit" or "miss" of the query-embedding cache */
void hx_metrics_query_cache(const char *result);
void hx_metrics_rate_limited(const char *route_class);
/* One group commit of an embedded database (see hx_sqlw_set_observer). */
void hx_metrics_db_commit(const char *db, int ops, double seconds);

typedef struct hx_metrics_gauges {
  long long outbox_unsent;
  double outbox_oldest_age_s;   /* 0 when none */
  long long jobs_open;
  long long queue_depth;
  long long vector_points;
  long long vector_points_unindexed;   /* accepted, not yet in the ANN graphs (searched exactly) */
  long long sqlite_bytes;       /* SQLite's own heap: page caches, statements, schemas */
  long long http_queued;        /* requests waiting for a handler thread */
  long long http_inflight;      /* handed over, not yet answered */
  double uptime_s;
} hx_metrics_gauges;

/* Append the text exposition (format 0.0.4) to out. */
int hx_metrics_render(const hx_metrics_gauges *g, hx_buf *out);

/* Reset every series (tests). */
void hx_metrics_reset(void);

#endif
