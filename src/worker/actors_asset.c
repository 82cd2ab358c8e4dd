/*
 * actors_asset.c - process_asset: an uploaded document becomes searchable
 * chunks.
 *
 *   process_asset(job_id, kwargs{org_id, asset_id, path, declared_type,
 *                 filename, content_sha256, bytes, model})
 *
 * extract (extract/extract.h) -> chunk by the model's tokens (chunk/chunk.h,
 * ~15% overlap) -> embed 256 chunks at a time with the shared embedder ->
 * upsert under point_id(org, asset, "chunk-NNNN", model, model_ver), job
 * progress = chunks embedded / total. Then the chunks of the previous version
 * that the new one does not overwrite are deleted: the asset record
 * (jobs/store.h) remembers how many chunks and which model the store holds,
 * so a shorter re-upload leaves no stale chunk (and a crash in between only
 * repeats idempotent deletes). A document that cannot be extracted (corrupt
 * or encrypted PDF, zip bomb, truncated UTF-16, ...) fails the job with the
 * extractor's message and is not retried. The uploaded file is deleted when
 * the job's terminal outcome is committed (ended()).
 */
#include "search/sparse.h"
#include "worker/actors.h"
#include "chunk/chunk.h"
#include "embed/tokenizer.h"
#include "extract/extract.h"
#include "obs/metrics.h"
#include "util/log.h"
#include "vstore/pointid.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EMBED_BATCH 256   /* chunks per embed call and per durable upsert (one fsync) */

static const char *kw(const hx_job_msg *m, const char *key) {
  const char *s = json_string_value(json_object_get(json_object_get(m->payload, "kwargs"), key));
  return s && *s ? s : NULL;
}

/* ---- the model's token counter for the chunker ---- */

typedef struct tok_counter { hx_tokenizer *t; } tok_counter;

static size_t count_wordpieces(void *ctx, const char *text, size_t len) {
  tok_counter *c = ctx;
  int cap = (int)(len + 2 < (size_t)INT32_MAX / 4 ? len + 2 : (size_t)INT32_MAX / 4), n = 0;
  int32_t *ids = malloc((size_t)cap * sizeof *ids);
  if (!ids) return len;   /* over-count: the chunk only gets smaller */
  if (hx_tokenizer_encode(c->t, text, len, cap, ids, &n, NULL, NULL)) n = (int)len + 2;
  free(ids);
  return n >= 2 ? (size_t)n - 2 : 0;   /* without [CLS]/[SEP] */
}

/* Chunk options for the model: its own word pieces when its tokenizer can be
 * read from HEIMDEX_MODELS_DIR/<name>, with room for [CLS]/[SEP]; for models
 * without a limit (lexical) HEIMDEX_CHUNK_TOKENS words. Without the tokenizer
 * file (a registry alias whose directory has another name) words are counted
 * and the limit is two thirds of the model's, since English averages about
 * 1.3 word pieces per word. */
static void chunk_opts_for(const hx_actor_ctx *ctx, const char *model, const hx_model_info *mi, tok_counter *tc,
                           hx_chunk_opts *o) {
  memset(o, 0, sizeof *o);
  o->overlap_tokens = HX_CHUNK_OVERLAP_DEFAULT;
  if (mi->max_tokens <= 0) {
    o->max_tokens = (size_t)ctx->cfg->chunk_tokens;
    return;
  }
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/%s", ctx->cfg->models_dir, model);
  hx_err err = {0};
  int mlen = 0;
  if (access(dir, R_OK) == 0 && hx_tokenizer_load(dir, &tc->t, &mlen, &err) == 0) {
    o->max_tokens = (size_t)mi->max_tokens - 2;
    o->count = count_wordpieces;
    o->ctx = tc;
  } else {
    o->max_tokens = (size_t)(mi->max_tokens - 2) * 2 / 3;
  }
}

/* ---- payloads ---- */

static json_t *chunk_payload(const char *org, const char *asset, const hx_chunk *c, const char *source_type,
                             const char *model, const char *ver) {
  json_t *p = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:I}", "org_id", org, "asset_id", asset,
                        "segment_id", c->id, "chunk_index", (json_int_t)c->index, "char_start", (json_int_t)c->cp_start,
                        "char_end", (json_int_t)c->cp_end, "text", c->text, "source_type", source_type, "model", model,
                        "model_ver", ver, "modality", "text", "tokens", (json_int_t)c->tokens);
  if (c->page) json_object_set_new(p, "page", json_integer(c->page));
  if (c->start_ms >= 0) {
    json_object_set_new(p, "start_ms", json_integer(c->start_ms));
    json_object_set_new(p, "end_ms", json_integer(c->end_ms));
  }
  return p;
}

/* Delete chunk points [from, to) of org/asset under model/ver. */
static int delete_chunks(hx_actor_ctx *ctx, const char *org, const char *asset, const char *model, const char *ver,
                         size_t from, size_t to, size_t *deleted, hx_err *err) {
  *deleted = 0;
  for (size_t off = from; off < to; off += 256) {
    size_t n = to - off < 256 ? to - off : 256, got = 0;
    hx_uuid ids[256];
    for (size_t i = 0; i < n; i++) {
      char seg[32];
      snprintf(seg, sizeof seg, "chunk-%04zu", off + i);
      hx_point_id(org, asset, seg, model, ver, &ids[i], NULL);
    }
    int rc = ctx->vs->ops->del(ctx->vs, HX_COLLECTION, org, ids, n, &got, err);
    if (rc) return rc;
    *deleted += got;
  }
  return 0;
}

/* Embed and upsert chunks [0, n) in batches, with progress 10..95. */
static int embed_chunks(hx_actor_ctx *ctx, hx_run *r, hx_embedder *e, const char *org, const char *asset,
                        const char *model, const char *source_type, const hx_chunk_list *cl, double *embed_s,
                        double *store_s, hx_err *err) {
  int dim = hx_embedder_info(e)->dim;
  const char *ver = hx_embedder_info(e)->version;   /* a BERT model's is a hash of its files */
  float *vecs = malloc((size_t)EMBED_BATCH * (size_t)dim * sizeof *vecs);
  if (!vecs) return hx_err_set(err, HX_ENOMEM, "out of memory");
  int rc = ctx->vs->ops->ensure(ctx->vs, HX_COLLECTION, dim, err);
  for (size_t off = 0; !rc && off < cl->n; off += EMBED_BATCH) {
    if (atomic_load(ctx->stopping)) {
      r->interrupted = 1;   /* upserts so far are idempotent: the job restarts from the top */
      break;
    }
    size_t g = cl->n - off < EMBED_BATCH ? cl->n - off : EMBED_BATCH;
    const char *texts[EMBED_BATCH];
    size_t lens[EMBED_BATCH];
    hx_vpoint pts[EMBED_BATCH];
    json_t *pl[EMBED_BATCH] = {0};
    hx_sparse sp[EMBED_BATCH] = {0};
    for (size_t k = 0; k < g; k++) {
      texts[k] = cl->v[off + k].text;
      lens[k] = cl->v[off + k].len;
    }
    double t0 = hx_mono();
    rc = hx_embedder_embed(e, texts, lens, g, vecs, NULL, NULL, err);
    hx_metrics_embedding(model, rc ? "error" : "success", g ? (hx_mono() - t0) / (double)g : 0);
    *embed_s += hx_mono() - t0;
    t0 = hx_mono();
    for (size_t k = 0; !rc && k < g; k++) {
      const hx_chunk *c = &cl->v[off + k];
      hx_uuid id;
      hx_point_id(org, asset, c->id, model, ver, &id, NULL);
      pl[k] = chunk_payload(org, asset, c, source_type, model, ver);
      /* the chunk's BM25 terms for keyword and hybrid search */
      rc = hx_sparse_encode(c->text, c->len, 0, &sp[k], err);
      pts[k] = (hx_vpoint){.id = id, .vec = vecs + k * (size_t)dim, .dim = dim, .sp_idx = sp[k].idx,
                           .sp_val = sp[k].val, .sp_n = sp[k].n, .payload = pl[k]};
    }
    if (!rc) rc = ctx->vs->ops->upsert(ctx->vs, HX_COLLECTION, org, pts, g, err);
    for (size_t k = 0; k < g; k++) {
      json_decref(pl[k]);
      hx_sparse_release(&sp[k]);
    }
    *store_s += hx_mono() - t0;
    if (!rc && off + g < cl->n)
      ctx->ledger->ops->progress(ctx->ledger, r->msg->job_id, "embedding", 10 + (int)((off + g) * 85 / cl->n));
  }
  free(vecs);
  return rc;
}

static void record_asset(hx_actor_ctx *ctx, const hx_run *r, const char *status, const char *source_type,
                         long long chunks, const char *model, const char *ver) {
  hx_asset_view a = {0};
  snprintf(a.org_id, sizeof a.org_id, "%s", kw(r->msg, "org_id"));
  snprintf(a.asset_id, sizeof a.asset_id, "%s", kw(r->msg, "asset_id"));
  snprintf(a.job_id, sizeof a.job_id, "%s", r->msg->job_id);
  snprintf(a.status, sizeof a.status, "%s", status);
  snprintf(a.source_type, sizeof a.source_type, "%s", source_type ? source_type : "");
  snprintf(a.model, sizeof a.model, "%s", model ? model : "");
  snprintf(a.model_ver, sizeof a.model_ver, "%s", model && ver ? ver : "");
  a.chunk_count = chunks;
  hx_err err = {0};
  if (ctx->ledger->ops->asset_done(ctx->ledger, &a, &err))
    hx_log(HX_LOG_WARN, "asset_record_failed", json_pack("{s:s,s:s}", "job_id", r->msg->job_id, "error", err.msg));
}

static void process_one(hx_actor_ctx *ctx, hx_run *r) {
  const char *org = kw(r->msg, "org_id"), *asset = kw(r->msg, "asset_id"), *path = kw(r->msg, "path");
  const char *model = kw(r->msg, "model");
  hx_doc *doc = NULL;
  hx_chunk_list cl = {0};
  tok_counter tc = {0};
  hx_err err = {0};
  if (!org || !asset || !path) {
    hx_run_fail(r, 0, "Invalid process_asset message: expected kwargs org_id, asset_id, path");
    return;
  }
  if (!model) model = hx_models_default_name(ctx->models);
  hx_embedder *e = NULL;
  int rc = hx_models_get(ctx->models, model, &e, &err);
  if (rc) {
    hx_run_fail(r, rc != HX_ENOENT && rc != HX_EUNSUPP && rc != HX_ECORRUPT, "embedding model: %s", err.msg);
    goto failed;
  }
  const char *ver = hx_embedder_info(e)->version;
  double t[5] = {hx_mono(), 0, 0, 0, 0};   /* start, extract, chunk, embed, store (seconds) */
  ctx->ledger->ops->progress(ctx->ledger, r->msg->job_id, "extracting", 2);
  hx_extract_limits lim;
  hx_extract_limits_default(&lim);
  if ((size_t)ctx->cfg->max_upload_bytes > lim.max_input_bytes) lim.max_input_bytes = (size_t)ctx->cfg->max_upload_bytes;
  rc = hx_extract_file(path, kw(r->msg, "declared_type"), &lim, &doc, &err);
  if (rc == HX_ENOENT) {
    hx_run_fail(r, 0, "The uploaded file is no longer available; upload the document again");
    goto failed;
  }
  if (rc) {
    /* a property of the document: retrying cannot help (except for resources) */
    hx_run_fail(r, rc == HX_ENOMEM || rc == HX_EIO, "Extraction failed: %s", err.msg);
    goto failed;
  }
  t[1] = hx_mono() - t[0];
  ctx->ledger->ops->progress(ctx->ledger, r->msg->job_id, "chunking", 8);
  hx_chunk_opts co;
  chunk_opts_for(ctx, model, hx_embedder_info(e), &tc, &co);
  if ((rc = hx_chunk_doc(doc, &co, &cl, &err))) {
    hx_run_fail(r, rc == HX_ENOMEM, "Chunking failed: %s", err.msg);
    goto failed;
  }
  t[2] = hx_mono() - t[0] - t[1];
  if (cl.n == 0) {
    hx_run_fail(r, 0, "The document has no text to index");
    goto failed;
  }
  if ((rc = embed_chunks(ctx, r, e, org, asset, model, doc->type, &cl, &t[3], &t[4], &err))) {
    hx_run_fail(r, rc != HX_EINVAL, "Embedding failed: %s", err.msg);
    goto out;
  }
  if (r->interrupted) goto out;
  /* the new version is in: remove what it did not overwrite */
  hx_asset_view prev;
  size_t stale = 0;
  rc = ctx->ledger->ops->asset_get(ctx->ledger, org, asset, &prev, &err);
  if (rc == 0 && prev.chunk_count > 0) {
    int same = !strcmp(prev.model, model) && !strcmp(prev.model_ver, ver);
    rc = delete_chunks(ctx, org, asset, prev.model, prev.model_ver, same ? cl.n : 0, (size_t)prev.chunk_count, &stale,
                       &err);
  } else if (rc == HX_ENOENT) {
    rc = 0;
  }
  if (rc) {
    hx_run_fail(r, 1, "Removing the previous version's chunks failed: %s", err.msg);
    goto out;
  }
  record_asset(ctx, r, "ready", doc->type, (long long)cl.n, model, ver);
  uint32_t pages = 0;
  for (size_t i = 0; i < doc->nblocks; i++)
    if (doc->blocks[i].page > pages) pages = doc->blocks[i].page;
  r->ok = 1;
  r->result = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:i}", "asset_id", asset, "collection", HX_COLLECTION,
                        "source_type", doc->type, "model", model, "model_ver", ver, "chunks", (json_int_t)cl.n,
                        "stale_chunks_deleted", (json_int_t)stale, "text_bytes", (json_int_t)doc->text_len, "bytes",
                        (json_int_t)json_integer_value(json_object_get(json_object_get(r->msg->payload, "kwargs"),
                                                                       "bytes")),
                        "vector_dim", hx_embedder_info(e)->dim);
  if (pages) json_object_set_new(r->result, "pages", json_integer(pages));
  json_object_set_new(r->result, "seconds", json_pack("{s:f,s:f,s:f,s:f,s:f}", "extract", t[1], "chunk", t[2], "embed",
                                                      t[3], "store", t[4], "total", hx_mono() - t[0]));
  goto out;
failed:
  if (!r->retryable) record_asset(ctx, r, "failed", doc ? doc->type : NULL, 0, NULL, NULL);
out:
  hx_chunk_list_release(&cl);
  hx_doc_free(doc);
  hx_tokenizer_free(tc.t);
}

static void process_run(hx_actor_ctx *ctx, hx_run *runs, size_t n) {
  for (size_t i = 0; i < n; i++) process_one(ctx, &runs[i]);
}

/* The job will not run again: its upload can go. */
static void process_ended(hx_actor_ctx *ctx, const hx_run *r) {
  (void)ctx;
  const char *path = kw(r->msg, "path");
  if (path && unlink(path) && errno != ENOENT)
    hx_log(HX_LOG_WARN, "upload_unlink_failed", json_pack("{s:s,s:s}", "path", path, "error", strerror(errno)));
}

const hx_actor hx_actor_process_asset = {"process_asset", 0, process_run, process_ended, 0};
