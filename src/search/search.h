/*
 * search.h - the search part: a request becomes a plan, a plan becomes one
 * ranked page of points of one org.
 *
 * Modes
 *   dense   nearest neighbours of the query's dense vector: the raw `vector`,
 *           or `query_text` embedded with `model` (default: the default model)
 *           through a query-embedding cache (LRU keyed by model, model version
 *           and text; hits and misses in /metrics);
 *   sparse  BM25 keyword search: the query's terms (src/search/sparse.h) scored
 *           against the segments' sparse vectors with IDF from the org's points;
 *   hybrid  both lists, fused:
 *             rrf   score = sum over lists of 1 / (rrf_k + rank), rank from 1,
 *                   rrf_k default 60 (Cormack et al.). Qdrant's built-in RRF
 *                   uses 1 / (2 + position) with position from 0, i.e. our
 *                   formula with rrf_k = 1: its top ranks weigh far more;
 *                   ask for rrf_k = 1 to reproduce Qdrant's fusion;
 *             dbsf  distribution-based score fusion (as Qdrant's): each list's
 *                   scores are mapped from [mean - 3 sd, mean + 3 sd] (sample
 *                   sd) to [0, 1] (a list whose scores are all equal maps to
 *                   0.5) and summed over the lists a point is in.
 *           Each list's term is multiplied by its weight (`weights`: dense,
 *           sparse; each >= 0, not both 0). Default 1 and 1, except that the
 *           dense list of the built-in lexical embedder weighs
 *           HX_SEARCH_LEXICAL_DENSE_WEIGHT: that model is itself a (hashed,
 *           noisier) bag of words and character n-grams, so by default it
 *           refines BM25's ranking instead of out-voting it. The value is the
 *           best dbsf weight on a training split of bench/relevance's Debian
 *           corpus disjoint from the packages the bench reports on.
 * MMR (optional, any mode) re-ranks the first `mmr.candidates` of the ranking:
 * greedily pick argmax lambda * rel(d) - (1 - lambda) * max_{s picked} cos(d, s),
 * rel = relevance min-max normalised over the candidates, cos over the stored
 * (normalised) dense vectors. lambda = 1 is the plain ranking; lower lambda
 * trades relevance for diversity. Scores stay relevance scores; explain shows
 * the penalty (1 - lambda) * max cos.
 *
 * Pagination: every mode ranks a window of the first W = 50 * ceil((offset +
 * limit) / 100) results itself (each list fetches max(W, mmr.candidates)
 * candidates, twice that in hybrid mode; equal scores are ordered by point
 * id) and returns the slice [offset, offset + limit) of it, so pages within
 * one window never overlap and concatenate to the same window asked for at
 * once, whatever order the store gives ties in.
 * score_threshold keeps results whose (fused) relevance score is >= it.
 *
 * Tenancy: every store call names the caller's org (the store partitions by
 * org); the client filter is ANDed with asset_id / segment_id and can only
 * narrow what the org already owns.
 */
#ifndef HX_SEARCH_SEARCH_H
#define HX_SEARCH_SEARCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/uuid.h"
#include "vstore/vstore.h"
#include "worker/models.h"

#define HX_SEARCH_MAX_LIMIT 100
#define HX_SEARCH_MAX_OFFSET 10000
#define HX_SEARCH_WINDOW 50   /* small enough that a first page costs the store no more than a plain top-10 (ef 64) */
#define HX_SEARCH_OVERFETCH 2
#define HX_SEARCH_MAX_MMR 1000
#define HX_SEARCH_MMR_CANDIDATES 100   /* default mmr.candidates */
#define HX_SEARCH_CACHE_ENTRIES 4096
#define HX_SEARCH_LEXICAL_DENSE_WEIGHT 0.15

typedef enum { HX_SEARCH_DENSE = 0, HX_SEARCH_SPARSE, HX_SEARCH_HYBRID } hx_search_mode;
typedef enum { HX_FUSION_RRF = 0, HX_FUSION_DBSF } hx_search_fusion;

typedef struct hx_search_plan {
  const char *query_text;   /* borrowed from the body; NULL = none */
  float *vector;            /* owned; NULL = embed query_text */
  int dim;
  const char *model;        /* borrowed; NULL = the default model */
  json_t *filter;           /* owned: client filter AND asset_id / segment_id; NULL = none */
  hx_search_mode mode;
  hx_search_fusion fusion;
  int rrf_k;
  int has_weights;          /* 0 = the defaults (see Modes above) */
  float w_dense, w_sparse;
  int mmr;                  /* 1 = re-rank with MMR */
  float mmr_lambda;
  int mmr_candidates;
  size_t limit, offset;
  int has_threshold;
  float threshold;
  int with_vector, explain;
  int exact;                /* 1 = brute force in the store (recall checks) */
} hx_search_plan;

/* Validates a POST /vectors/search body into p (which borrows strings from
 * body: keep body alive while p is used). Returns 0; or HX_EINVAL with
 * *errors = pydantic items ({type, loc, msg, input[, ctx]}, new reference)
 * for a 422; or HX_EBADREQ (status 400, err) for a blank query_text.
 * vector_size: the collection's dimension a raw `vector` must have.
 * vector: NULL, or the body's `vector` already parsed (vector_size floats,
 * hx_json_f32_member; taken over, freed on error) when body holds a
 * placeholder in its place. */
int hx_search_plan_parse(const json_t *body, int vector_size, float *vector, hx_search_plan *p, json_t **errors,
                         hx_err *err);
void hx_search_plan_release(hx_search_plan *p);

/* ---- ranking (pure, unit-tested) ---- */

typedef struct hx_search_cand {
  hx_uuid id;
  float dense_score, sparse_score;
  int dense_rank, sparse_rank;   /* 1-based; 0 = not in that list */
  double score;                  /* relevance: the list's score or the fused score */
  double mmr_penalty;            /* set by hx_search_mmr */
  int gone;                      /* deleted since the search: not in the results */
  json_t *payload;               /* owned reference or NULL */
  float *vec;                    /* owned, dim floats (normalised) or NULL */
  int dim;
} hx_search_cand;

/* Sets score of each candidate from its list scores/ranks, each list's term
 * times its weight, and sorts best first (ties: by point id). */
void hx_search_fuse(hx_search_cand *c, size_t n, hx_search_fusion f, int rrf_k, double w_dense, double w_sparse);
/* Sorts by score, best first, with the same tie rule. */
void hx_search_sort(hx_search_cand *c, size_t n);
/* Reorders c so its first k entries are the MMR picks (greedy, in order) and
 * sets their mmr_penalty. Candidates without a vector count as dissimilar to
 * everything. HX_ENOMEM only. */
int hx_search_mmr(hx_search_cand *c, size_t n, size_t k, float lambda);
void hx_search_cands_release(hx_search_cand *c, size_t n);

/* ---- execution ---- */

typedef struct hx_search hx_search;

/* cache_entries: query embeddings kept (0 = no cache). */
int hx_search_new(size_t cache_entries, hx_search **out, hx_err *err);
void hx_search_free(hx_search *s);

/* Runs p for org and builds the response body
 * {results:[{point_id, score, payload[, vector][, explain]}], query_model,
 *  query_model_ver, total} (*out, new reference). Errors carry their status:
 * unknown model 400, dimension mismatch 422. */
int hx_search_run(hx_search *s, hx_vstore *vs, hx_models *models, const char *org, const hx_search_plan *p,
                  json_t **out, hx_err *err);

#endif
