/*
 * actors_embed.c - the embedding actors.
 *
 *   dispatch_embed_text(job_id, kwargs{org_id, asset_id, segment_id, text, model, model_ver})
 *     one segment per job, as the original; every such message a worker popped
 *     is embedded together (grouped by model), so concurrent single-segment
 *     jobs share forward passes and one vector upsert.
 *   embed_batch(job_id, kwargs{org_id, asset_id, model, model_ver, segments[{segment_id, text}]})
 *     one job, many segments: embedded 32 at a time with progress (segments
 *     done / total); a segment that cannot be embedded (empty, invalid UTF-8)
 *     is reported in the result without failing the others.
 *
 * Point ids are the original's: point_id(org, asset, segment, model, model_ver).
 * model_ver is the model's own version (for BERT models a hash of its files,
 * see src/embed/version.c) when the request gave none: the job key keeps the
 * original "v1" for that case, while point ids, payloads and results carry
 * the real version.
 * Each point also carries the segment's BM25 sparse vector (src/search/sparse.h)
 * for keyword and hybrid search, and its payload the segment text (`text`), so
 * search results show what matched. The ledger and outbox keep no raw text.
 */
#include "worker/actors.h"
#include "obs/metrics.h"
#include "search/sparse.h"
#include "util/log.h"
#include "vstore/pointid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMBED_CHUNK 32

static const char *kw_str(const hx_job_msg *m, const char *key) {
  return json_string_value(json_object_get(json_object_get(m->payload, "kwargs"), key));
}

static json_t *point_payload(const char *org, const char *asset, const char *seg, const char *model, const char *ver,
                             const char *text, int tokens, int truncated) {
  return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:i,s:i,s:s}", "org_id", org, "asset_id", asset, "segment_id", seg,
                   "modality", "text", "model", model, "model_ver", ver, "text_len", (json_int_t)strlen(text), "tokens",
                   tokens, "truncated_tokens", truncated, "text", text);
}

/* Embed texts[0..n) with the model and upsert the good ones under org/asset.
 * status[i] = 0 ok, else HX_E*; ntok/trunc per text. Returns non-zero for a
 * failure of the whole step (model, store), with err set. */
static int embed_and_upsert(hx_actor_ctx *ctx, hx_embedder *e, const char *model, const char *ver, const char *org,
                            const char *const *assets, const char *const *segs, const char *const *texts, size_t n,
                            int *status, int *ntok, int *trunc, hx_uuid *ids, hx_err *err) {
  int dim = hx_embedder_info(e)->dim;
  float *vecs = malloc(n * (size_t)dim * sizeof *vecs);
  hx_vpoint *pts = calloc(n, sizeof *pts);
  json_t **pl = calloc(n, sizeof *pl);
  hx_sparse *sp = calloc(n, sizeof *sp);
  int rc = 0;
  if (!vecs || !pts || !pl || !sp) {
    rc = hx_err_set(err, HX_ENOMEM, "out of memory");
    goto out;
  }
  double t0 = hx_mono();
  rc = hx_embedder_embed_each(e, texts, NULL, n, vecs, ntok, trunc, status, err);
  double per = n ? (hx_mono() - t0) / (double)n : 0;
  if (rc) goto out;
  size_t np = 0;
  for (size_t i = 0; i < n; i++) {
    hx_metrics_embedding(model, status[i] ? "error" : "success", per);
    if (status[i]) continue;
    hx_point_id(org, assets[i], segs[i], model, ver, &ids[i], NULL);
    pl[i] = point_payload(org, assets[i], segs[i], model, ver, texts[i], ntok[i], trunc[i]);
    if ((rc = hx_sparse_encode(texts[i], strlen(texts[i]), 0, &sp[i], err))) goto out;  /* the text embedded: valid UTF-8 */
    pts[np++] = (hx_vpoint){.id = ids[i], .vec = vecs + i * (size_t)dim, .dim = dim, .sp_idx = sp[i].idx,
                            .sp_val = sp[i].val, .sp_n = sp[i].n, .payload = pl[i]};
  }
  if (np) {
    rc = ctx->vs->ops->ensure(ctx->vs, HX_COLLECTION, dim, err);
    if (!rc) rc = ctx->vs->ops->upsert(ctx->vs, HX_COLLECTION, org, pts, np, err);
  }
out:
  for (size_t i = 0; pl && i < n; i++) json_decref(pl[i]);
  for (size_t i = 0; sp && i < n; i++) hx_sparse_release(&sp[i]);
  free(sp);
  free(pl);
  free(pts);
  free(vecs);
  return rc;
}

static json_t *point_result(const hx_uuid *id, const char *asset, const char *seg, const char *model, const char *ver,
                            int dim, size_t text_len, int tokens, int truncated) {
  char pid[37];
  hx_uuid_str(id, pid);
  return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:i,s:i}", "point_id", pid, "collection", HX_COLLECTION,
                   "asset_id", asset, "segment_id", seg, "model", model, "model_ver", ver, "vector_dim", dim, "text_len",
                   (json_int_t)text_len, "tokens", tokens, "truncated_tokens", truncated);
}

/* ---- dispatch_embed_text: many single-segment jobs at once ---- */

static void embed_text_run(hx_actor_ctx *ctx, hx_run *runs, size_t n) {
  size_t *idx = calloc(n, sizeof *idx);
  if (!idx) {
    for (size_t i = 0; i < n; i++) hx_run_fail(&runs[i], 1, "out of memory");
    return;
  }
  int *done = calloc(n, sizeof *done);
  for (size_t i = 0; i < n; i++) {
    hx_run *r = &runs[i];
    if (!kw_str(r->msg, "org_id") || !kw_str(r->msg, "asset_id") || !kw_str(r->msg, "segment_id") ||
        !kw_str(r->msg, "text")) {
      hx_run_fail(r, 0, "Invalid dispatch_embed_text message: expected kwargs org_id, asset_id, segment_id, text");
      done[i] = 1;
    }
  }
  /* group by (org, model, model_ver): one embed call and one upsert per group */
  for (size_t i = 0; i < n; i++) {
    if (done[i]) continue;
    const char *org = kw_str(runs[i].msg, "org_id");
    const char *model = kw_str(runs[i].msg, "model");
    const char *ver = kw_str(runs[i].msg, "model_ver");
    if (!model || !*model) model = hx_models_default_name(ctx->models);
    if (!ver) ver = ""; /* none given: the model's own version, known once it is open */
    size_t g = 0;
    for (size_t k = i; k < n; k++) {
      if (done[k]) continue;
      const char *m2 = kw_str(runs[k].msg, "model"), *v2 = kw_str(runs[k].msg, "model_ver");
      if (!m2 || !*m2) m2 = hx_models_default_name(ctx->models);
      if (!v2) v2 = "";
      if (strcmp(org, kw_str(runs[k].msg, "org_id")) || strcmp(model, m2) || strcmp(ver, v2)) continue;
      idx[g++] = k;
      done[k] = 1;
    }
    const char **assets = calloc(g, sizeof *assets), **segs = calloc(g, sizeof *segs),
               **texts = calloc(g, sizeof *texts);
    int *status = calloc(g, sizeof *status), *ntok = calloc(g, sizeof *ntok), *trunc = calloc(g, sizeof *trunc);
    hx_uuid *ids = calloc(g, sizeof *ids);
    hx_err err = {0};
    hx_embedder *e = NULL;
    int rc = (!assets || !segs || !texts || !status || !ntok || !trunc || !ids)
                 ? hx_err_set(&err, HX_ENOMEM, "out of memory")
                 : hx_models_get(ctx->models, model, &e, &err);
    if (!rc && !*ver) ver = hx_embedder_info(e)->version;
    for (size_t k = 0; k < g && !rc; k++) {
      hx_run *r = &runs[idx[k]];
      hx_run_step(r, "embedding", 30);
      assets[k] = kw_str(r->msg, "asset_id");
      segs[k] = kw_str(r->msg, "segment_id");
      texts[k] = kw_str(r->msg, "text");
    }
    if (!rc)
      rc = embed_and_upsert(ctx, e, model, ver, org, assets, segs, texts, g, status, ntok, trunc, ids, &err);
    for (size_t k = 0; k < g; k++) {
      hx_run *r = &runs[idx[k]];
      if (rc) {
        /* an unknown model cannot get better by retrying; a store failure may */
        hx_run_fail(r, rc != HX_ENOENT && rc != HX_EUNSUPP && rc != HX_ECORRUPT, "embedding failed: %s", err.msg);
      } else if (status[k]) {
        hx_err one = {0};
        float *tmp = malloc((size_t)hx_embedder_info(e)->dim * sizeof *tmp);
        if (tmp) hx_embedder_embed(e, &texts[k], NULL, 1, tmp, NULL, NULL, &one);  /* for its message */
        free(tmp);
        hx_run_fail(r, 0, "%s", one.msg[0] ? one.msg : "text cannot be embedded");
      } else {
        hx_run_step(r, "upserting", 80);
        r->ok = 1;
        r->result = point_result(&ids[k], assets[k], segs[k], model, ver, hx_embedder_info(e)->dim, strlen(texts[k]),
                                 ntok[k], trunc[k]);
      }
    }
    free(assets);
    free(segs);
    free(texts);
    free(status);
    free(ntok);
    free(trunc);
    free(ids);
  }
  free(done);
  free(idx);
}

/* ---- embed_batch: one job, many segments ---- */

static void embed_batch_one(hx_actor_ctx *ctx, hx_run *r) {
  const char *org = kw_str(r->msg, "org_id"), *asset = kw_str(r->msg, "asset_id");
  const char *model = kw_str(r->msg, "model"), *ver = kw_str(r->msg, "model_ver");
  json_t *segs = json_object_get(json_object_get(r->msg->payload, "kwargs"), "segments");
  if (!org || !asset || !json_is_array(segs)) {
    hx_run_fail(r, 0, "Invalid embed_batch message: expected kwargs org_id, asset_id, segments");
    return;
  }
  if (!model || !*model) model = hx_models_default_name(ctx->models);
  hx_embedder *e = NULL;
  hx_err err = {0};
  int rc = hx_models_get(ctx->models, model, &e, &err);
  if (rc) {
    hx_run_fail(r, rc != HX_ENOENT && rc != HX_EUNSUPP && rc != HX_ECORRUPT, "embedding failed: %s", err.msg);
    return;
  }
  if (!ver || !*ver) ver = hx_embedder_info(e)->version; /* none given: the model's own */
  size_t total = json_array_size(segs), ok = 0;
  json_t *failed = json_array();
  const char *assets[EMBED_CHUNK], *ids_s[EMBED_CHUNK], *texts[EMBED_CHUNK];
  int status[EMBED_CHUNK], ntok[EMBED_CHUNK], trunc[EMBED_CHUNK];
  hx_uuid ids[EMBED_CHUNK];
  long long tokens = 0, truncated = 0;
  for (size_t off = 0; off < total; off += EMBED_CHUNK) {
    if (atomic_load(ctx->stopping)) {
      r->interrupted = 1;   /* upserts so far are idempotent: the job restarts from the top */
      json_decref(failed);
      return;
    }
    size_t g = total - off < EMBED_CHUNK ? total - off : EMBED_CHUNK;
    for (size_t k = 0; k < g; k++) {
      json_t *s = json_array_get(segs, off + k);
      assets[k] = asset;
      ids_s[k] = json_string_value(json_object_get(s, "segment_id"));
      texts[k] = json_string_value(json_object_get(s, "text"));
      if (!ids_s[k]) ids_s[k] = "";
      if (!texts[k]) texts[k] = "";
    }
    rc = embed_and_upsert(ctx, e, model, ver, org, assets, ids_s, texts, g, status, ntok, trunc, ids, &err);
    if (rc) {
      hx_run_fail(r, 1, "embedding failed after %zu of %zu segments: %s", ok, total, err.msg);
      json_decref(failed);
      return;
    }
    for (size_t k = 0; k < g; k++) {
      if (status[k]) {
        hx_err one = {0};
        float *tmp = malloc((size_t)hx_embedder_info(e)->dim * sizeof *tmp);
        if (tmp) hx_embedder_embed(e, &texts[k], NULL, 1, tmp, NULL, NULL, &one);
        free(tmp);
        json_array_append_new(failed, json_pack("{s:s,s:s}", "segment_id", ids_s[k], "error",
                                                one.msg[0] ? one.msg : "text cannot be embedded"));
      } else {
        ok++;
        tokens += ntok[k];
        truncated += trunc[k];
      }
    }
    int pct = (int)((off + g) * 100 / total);
    if (pct < 100) ctx->ledger->ops->progress(ctx->ledger, r->msg->job_id, "embedding", pct);
  }
  if (ok == 0 && total > 0) {
    hx_run_fail(r, 0, "no segment could be embedded (%zu failed)", total);
    json_decref(failed);
    return;
  }
  r->ok = 1;
  r->result = json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:o}", "asset_id", asset, "collection", HX_COLLECTION,
                        "model", model, "model_ver", ver, "vector_dim", hx_embedder_info(e)->dim, "segments_total",
                        (json_int_t)total, "segments_embedded", (json_int_t)ok, "segments_failed",
                        (json_int_t)(total - ok), "tokens", (json_int_t)tokens, "truncated_tokens",
                        (json_int_t)truncated, "failed", failed);
}

static void embed_batch_run(hx_actor_ctx *ctx, hx_run *runs, size_t n) {
  for (size_t i = 0; i < n; i++) embed_batch_one(ctx, &runs[i]);
}

const hx_actor hx_actor_embed_text = {"dispatch_embed_text", 1, embed_text_run, NULL, 0};
const hx_actor hx_actor_embed_batch = {"embed_batch", 0, embed_batch_run, NULL, 0};
