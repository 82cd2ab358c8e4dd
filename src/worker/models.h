/*
 * models.h - the embedding models a process uses, opened once and shared.
 *
 * Model names are the embedding engine's (src/embed/embed.h): registry aliases,
 * directory names under HEIMDEX_MODELS_DIR, or "lexical". The default model is
 * EMBEDDING_MODEL_NAME, else what hx_models_default picks (minilm-l6-v2 when
 * installed, else the built-in lexical embedder), checked at start: it must
 * exist and produce VECTOR_SIZE dimensions. Embedders are opened lazily and
 * kept for the life of the process; each uses cores / workers compute threads.
 */
#ifndef HX_WORKER_MODELS_H
#define HX_WORKER_MODELS_H

#include "embed/embed.h"
#include "util/config.h"

typedef struct hx_models hx_models;

/* Resolves and checks the default model (HX_ECONFIG with one clear line). */
int hx_models_new(const hx_config *cfg, hx_models **out, hx_err *err);
void hx_models_free(hx_models *m);

/* The default model's name. */
const char *hx_models_default_name(const hx_models *m);

/* name NULL or "" = default. Checks the model exists and its dimension is
 * VECTOR_SIZE without loading weights: 400 "Unknown model: X" or 422 on a
 * dimension mismatch (err->status set). out may be NULL. The answer is cached
 * per name and reused while the models directory and the model's directory
 * keep their inode and mtime (models.c says what that sees); safe from any
 * thread. out->is_default is not meaningful here. */
int hx_models_check(hx_models *m, const char *name, hx_model_info *out, hx_err *err);

/* How many times hx_models_check described a model from its files, i.e.
 * missed its cache (see models.c); for tests. */
unsigned long hx_models_describes(hx_models *m);

/* The opened embedder (borrowed, lives as long as m). */
int hx_models_get(hx_models *m, const char *name, hx_embedder **out, hx_err *err);

#endif
