/*
 * actors.c - the original service's actors:
 *   mock_embedding(job_id, org_id, asset_id, segment_id): the bit-exact mock
 *     vector upserted into "embeddings" under its deterministic point id;
 *   process_mock(job_id, fail_at_stage): three timed stages (extracting,
 *     analyzing, indexing) with the original progress and result shapes.
 */
#include "worker/actors.h"
#include "embed/mock.h"
#include "obs/metrics.h"
#include "search/sparse.h"
#include "util/log.h"
#include "vstore/pointid.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void hx_run_step(hx_run *r, const char *stage, int progress) {
  if (r->nsteps < HX_RUN_MAX_STEPS) r->steps[r->nsteps++] = (hx_job_step){stage, progress, hx_now()};
}

void hx_run_fail(hx_run *r, int retryable, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error, sizeof r->error, fmt, ap);
  va_end(ap);
  r->ok = 0;
  r->retryable = retryable;
}

/* args[i] as a non-empty string, or NULL */
static const char *arg_str(const hx_job_msg *m, size_t i) {
  const char *s = json_string_value(json_array_get(json_object_get(m->payload, "args"), i));
  return s && *s ? s : NULL;
}

/* ---- mock_embedding ---- */

typedef struct { hx_uuid id; float *vec; json_t *payload; hx_sparse sp; } mock_point;

static void mock_embedding_run(hx_actor_ctx *ctx, hx_run *runs, size_t n) {
  int dim = ctx->cfg->vector_size;
  mock_point *pts = calloc(n, sizeof *pts);
  hx_vpoint *vp = calloc(n, sizeof *vp);
  size_t *which = calloc(n, sizeof *which);
  size_t np = 0;
  if (!pts || !vp || !which) {
    for (size_t i = 0; i < n; i++) hx_run_fail(&runs[i], 1, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    hx_run *r = &runs[i];
    const char *org = arg_str(r->msg, 1), *asset = arg_str(r->msg, 2), *seg = arg_str(r->msg, 3);
    if (!org || !asset || !seg) {
      hx_run_fail(r, 0, "Invalid mock_embedding message: expected args [job_id, org_id, asset_id, segment_id]");
      continue;
    }
    hx_run_step(r, "generating", 30);
    double t0 = hx_mono();
    mock_point *p = &pts[np];
    uint32_t seed;
    float *v = malloc((size_t)dim * sizeof *v);
    if (!v || hx_point_id(org, asset, seg, HX_MOCK_MODEL, HX_MOCK_MODEL_VER, &p->id, &seed)) {
      free(v);
      hx_run_fail(r, 1, "out of memory");
      continue;
    }
    hx_mock_random(seed, v, (size_t)dim);
    p->vec = v;
    char text[512];
    snprintf(text, sizeof text, "Mock embedding for asset %s, segment %s", asset, seg);
    p->payload = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "org_id", org, "asset_id", asset, "segment_id", seg,
                           "model", HX_MOCK_MODEL, "model_ver", HX_MOCK_MODEL_VER, "text", text);
    hx_sparse_encode(text, strlen(text), 0, &p->sp, NULL);  /* ASCII ids or valid UTF-8 from JSON: only ENOMEM fails, leaving no terms */
    vp[np] = (hx_vpoint){.id = p->id, .vec = v, .dim = dim, .sp_idx = p->sp.idx, .sp_val = p->sp.val, .sp_n = p->sp.n,
                         .payload = p->payload};
    hx_metrics_embedding(HX_MOCK_MODEL, "success", hx_mono() - t0);
    which[np++] = i;
    hx_run_step(r, "upserting", 60);
  }
  /* one upsert per org: the store is partitioned by tenant */
  for (size_t i = 0; i < np; i++) {
    if (!vp[i].vec) continue;
    const char *org = json_string_value(json_object_get(vp[i].payload, "org_id"));
    hx_vpoint *group = calloc(np, sizeof *group);
    size_t *gw = calloc(np, sizeof *gw), ng = 0;
    for (size_t k = i; k < np; k++) {
      if (!vp[k].vec || strcmp(org, json_string_value(json_object_get(vp[k].payload, "org_id")))) continue;
      group[ng] = vp[k];
      gw[ng++] = k;
    }
    hx_err err = {0};
    int rc = ctx->vs->ops->ensure(ctx->vs, HX_COLLECTION, dim, &err);
    if (!rc) rc = ctx->vs->ops->upsert(ctx->vs, HX_COLLECTION, org, group, ng, &err);
    for (size_t g = 0; g < ng; g++) {
      size_t k = gw[g];
      hx_run *r = &runs[which[k]];
      if (rc) {
        hx_run_fail(r, 1, "vector upsert failed: %s", err.msg);
      } else {
        char pid[37];
        hx_uuid_str(&pts[k].id, pid);
        r->ok = 1;
        r->result = json_pack("{s:s,s:s,s:i,s:s,s:s,s:s,s:s}", "point_id", pid, "collection", HX_COLLECTION,
                              "vector_size", dim, "asset_id", arg_str(r->msg, 2), "segment_id", arg_str(r->msg, 3),
                              "model", HX_MOCK_MODEL, "model_ver", HX_MOCK_MODEL_VER);
      }
      vp[k].vec = NULL; /* done */
    }
    free(group);
    free(gw);
  }
out:
  for (size_t i = 0; pts && i < n; i++) {
    free(pts[i].vec);
    json_decref(pts[i].payload);
    hx_sparse_release(&pts[i].sp);
  }
  free(pts);
  free(vp);
  free(which);
}

/* ---- process_mock ---- */

/* Sleep ms, waking early (returning 1) when shutdown starts. */
static int sleep_ms(const hx_actor_ctx *ctx, int ms) {
  double until = hx_mono() + ms / 1000.0;
  while (hx_mono() < until) {
    if (atomic_load(ctx->stopping)) return 1;
    double left = until - hx_mono();
    struct timespec ts = {0, (long)((left < 0.05 ? left : 0.05) * 1e9)};
    nanosleep(&ts, NULL);
  }
  return 0;
}

static void process_mock_run(hx_actor_ctx *ctx, hx_run *runs, size_t n) {
  static const char *stages[3] = {"extracting", "analyzing", "indexing"};
  for (size_t i = 0; i < n; i++) {
    hx_run *r = &runs[i];
    const char *fail_at = arg_str(r->msg, 1);
    const int *dur = ctx->cfg->mock_stage_ms;
    long total = (long)dur[0] + dur[1] + dur[2], elapsed = 0;
    int failed = 0;
    for (int s = 0; s < 3; s++) {
      int pct = total ? (int)(elapsed * 100 / total) : 0;
      ctx->ledger->ops->progress(ctx->ledger, r->msg->job_id, stages[s], pct);
      if (fail_at && !strcmp(fail_at, stages[s])) {
        hx_run_fail(r, 1, "Deterministic failure at stage: %s", stages[s]);
        failed = 1;
        break;
      }
      if (sleep_ms(ctx, dur[s])) {
        r->interrupted = 1;   /* handed back: recovered at restart or reclaimed by another worker */
        failed = 1;
        break;
      }
      elapsed += dur[s];
      pct = total ? (int)(elapsed * 100 / total) : 100;
      ctx->ledger->ops->progress(ctx->ledger, r->msg->job_id, stages[s], pct);
    }
    if (failed) continue;
    char ts[40];
    hx_iso8601(hx_now(), ts);
    json_t *dsec = (elapsed % 1000) ? json_real((double)elapsed / 1000.0) : json_integer(elapsed / 1000);
    r->ok = 1;
    r->result = json_pack("{s:[sss],s:o,s:s}", "stages_completed", stages[0], stages[1], stages[2],
                          "total_duration_seconds", dsec, "timestamp", ts);
  }
}

static const hx_actor mock_embedding = {"mock_embedding", 1, mock_embedding_run, NULL, 1};
static const hx_actor process_mock = {"process_mock", 0, process_mock_run, NULL, 0};

const hx_actor *hx_actor_find(const char *task_name) {
  static const hx_actor *const actors[] = {&mock_embedding, &process_mock, &hx_actor_embed_text, &hx_actor_embed_batch,
                                              &hx_actor_process_asset};
  for (size_t i = 0; i < sizeof actors / sizeof actors[0]; i++)
    if (!strcmp(actors[i]->name, task_name)) return actors[i];
  return NULL;
}
