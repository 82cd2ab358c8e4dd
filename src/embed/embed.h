/*
 * embed.h - the embedding engine: text in, unit vectors out.
 *
 * Why it exists: the worker turns segments into vectors without Python. Two
 * kinds of model sit behind one handle:
 *   - "bert": a BERT-architecture sentence-transformers model read from a
 *     Hugging Face directory (config.json, model.safetensors, vocab.txt or
 *     tokenizer.json, modules.json, 1_Pooling/config.json,
 *     sentence_bert_config.json) under models_dir/<name>/;
 *   - "lexical": the built-in hashed word + character n-gram embedder that
 *     needs no file at all (the default when no neural model is installed).
 *
 * Names: the registry aliases "minilm-l6-v2" (directory all-MiniLM-L6-v2 or
 * minilm-l6-v2) and "minilm-l12-v2" (all-MiniLM-L12-v2 or minilm-l12-v2), any
 * other directory name under models_dir, or "lexical".
 *
 * Threads: one hx_embedder may be used by many threads at once; each
 * hx_embedder_embed call uses up to HEIMDEX_EMBED_THREADS compute threads
 * (default: the CPUs this process may run on). Set it to cores / workers when
 * several workers embed concurrently, so the cores are not oversubscribed.
 */
#ifndef HX_EMBED_EMBED_H
#define HX_EMBED_EMBED_H

#include <stddef.h>

#include "util/err.h"

typedef struct hx_embedder hx_embedder;

typedef struct hx_model_info {
  char name[64];     /* the name it was opened / listed under */
  char version[32];  /* "v1" for lexical; for bert the first 12 hex digits of a
                        SHA-256 over its files' bytes (see version.c) */
  int dim;           /* output dimension */
  int max_tokens;    /* incl. [CLS]/[SEP]; 0 = unlimited (lexical) */
  int is_default;    /* set by hx_models_list on the model picked by default */
  char kind[16];     /* "bert" | "lexical" */
  char precision[16]; /* bert, once opened: "f32-packed" | "f32" | "bf16"; else "" */
} hx_model_info;

/* Open a model. models_dir may be NULL (then only "lexical" and nothing else
 * can be opened). vector_size is the lexical dimension (>0) and is ignored for
 * bert models. *out is owned by the caller (hx_embedder_free).
 * Errors: HX_ENOENT unknown name / missing file, HX_ECORRUPT bad file (the
 * message names the file), HX_EUNSUPP unsupported architecture or dtype. */
int hx_embedder_open(const char *models_dir, const char *name, int vector_size,
                     hx_embedder **out, hx_err *err);

void hx_embedder_free(hx_embedder *e);

/* Precision of a BERT model's matrix products: "f32-packed" (the default:
 * prepacked oneDNN matmuls), "f32" (plain sgemm; both match the reference to
 * 1e-4) or "bf16" (bfloat16 inputs, f32 accumulation; about 1.5-2x faster
 * where the CPU has avx512_bf16; cosine to f32 >= 0.999).
 * hx_embedder_open applies HEIMDEX_EMBED_PRECISION when set, else tries
 * "f32-packed" and logs embed_precision_fallback when it has to stay on "f32".
 * A failed change leaves "f32"; hx_embedder_info(e)->precision tells which is
 * in use. Not to be called while another thread embeds with e. HX_EUNSUPP if
 * the CPU lacks it; no-op for lexical. */
int hx_embedder_set_precision(hx_embedder *e, const char *precision, hx_err *err);

/* Compute threads per hx_embedder_embed call (>= 1). Default:
 * HEIMDEX_EMBED_THREADS, else the CPUs this process may use. A service
 * running W embedding workers on C cores should set C / W. Not to be called
 * while another thread embeds with e. */
void hx_embedder_set_threads(hx_embedder *e, int n);

/* The thread count for one of `workers` concurrent embedding workers:
 * HEIMDEX_EMBED_THREADS when set, else max(1, usable CPUs / workers). */
int hx_embed_threads_for(int workers);

/* Borrowed, lives as long as e. */
const hx_model_info *hx_embedder_info(const hx_embedder *e);

/* Embed n UTF-8 texts (texts[i] of lens[i] bytes; lens NULL = NUL-terminated)
 * into out[n * dim], L2-normalised when the model says so. ntokens[i]
 * (optional) receives the tokens used incl. [CLS]/[SEP] after truncation,
 * truncated[i] (optional) how many tokens were cut. Fails as a whole:
 * HX_EINVAL (status 422) names the first text that is invalid UTF-8, empty or
 * whitespace-only. Thread-safe. */
int hx_embedder_embed(hx_embedder *e, const char *const *texts, const size_t *lens,
                      size_t n, float *out, int *ntokens, int *truncated, hx_err *err);

/* Like hx_embedder_embed, but a text that is invalid UTF-8, empty or
 * whitespace-only does not fail the call: status[i] (required, n entries)
 * receives 0 or its HX_E* code, its vector is all zeros, the others are
 * embedded. For the message of a failed text, embed it alone with
 * hx_embedder_embed. Returns non-zero only for failures of the whole call
 * (out of memory, model errors). For batch jobs that must keep the good
 * segments. */
int hx_embedder_embed_each(hx_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                           float *out, int *ntokens, int *truncated, int *status, hx_err *err);

/* Installed models (each directory under models_dir that opens as a BERT
 * model's config, checked cheaply: config.json + weights present) plus the
 * built-in lexical one. is_default marks what hx_models_default picks.
 * *out is owned by the caller (free()). */
int hx_models_list(const char *models_dir, int vector_size, hx_model_info **out,
                   size_t *n, hx_err *err);

/* Describe one model by name without loading weights (cheap: small JSON
 * files only), e.g. to validate a request's model and dimension before a job
 * is created. Same names and errors as hx_embedder_open's lookup
 * (HX_ENOENT, status 400, for an unknown or not-installed model). */
int hx_model_describe(const char *models_dir, const char *name, int vector_size,
                      hx_model_info *out, hx_err *err);

/* The directory a model name stands for (registry aliases resolved, as
 * hx_embedder_open finds it) into dir; "" for the built-in "lexical". Costs a
 * stat or two. HX_ENOENT (status 400) when there is none. */
int hx_model_dir(const char *models_dir, const char *name, char *dir, size_t cap, hx_err *err);

/* Name of the default model: "minilm-l6-v2" when installed, else the first
 * installed BERT directory in name order, else "lexical". Writes into buf. */
int hx_models_default(const char *models_dir, char *buf, size_t cap, hx_err *err);

#endif
