/*
 * embed_int.h - helpers shared by the files of src/embed (not public).
 *
 * Every model file is read through these so that a missing or corrupt file
 * yields one error that names it (HX_ENOENT / HX_ECORRUPT, "<path>: why").
 */
#ifndef HX_EMBED_EMBED_INT_H
#define HX_EMBED_EMBED_INT_H

#include <stddef.h>

#include <jansson.h>

#include "util/err.h"

/* dir + "/" + name into buf; HX_EINVAL if it does not fit. */
int hx__embed_path(char *buf, size_t cap, const char *dir, const char *name, hx_err *err);

/* Parse a JSON file. *out owned by the caller (json_decref). Missing file:
 * HX_ENOENT unless optional, then 0 with *out = NULL. */
int hx__embed_json_load(const char *path, int optional, json_t **out, hx_err *err);

/* Whole file into a NUL-terminated malloc'd buffer (owned by the caller). */
int hx__embed_read_file(const char *path, char **out, size_t *len, hx_err *err);

/* A BERT model directory's version: the first 12 hex digits of a SHA-256
 * over its files' contents (version.c says which files and how; weights
 * hashes are cached by size + mtime). out receives 12 hex digits + NUL. */
int hx__embed_model_version(const char *dir, char out[13], hx_err *err);

/* A sentence-transformers Dense module (dense.c): y = act(W x + b). */
typedef struct hx__dense {
  int in, out, has_bias, tanh;   /* tanh 0 = Identity */
  float *w;                      /* owned, [out, in]; NULL until loaded */
  float *b;                      /* owned, [out] or NULL */
} hx__dense;

/* Read <dir>/<path>/config.json into d (no weights; nothing to release). */
int hx__dense_config(const char *dir, const char *path, hx__dense *d, hx_err *err);
/* Load <dir>/<path>/model.safetensors (linear.weight, linear.bias) into d. */
int hx__dense_load(const char *dir, const char *path, hx__dense *d, hx_err *err);
void hx__dense_release(hx__dense *d);
/* y[n, out] = act(x[n, in] W^T + b). */
int hx__dense_apply(const hx__dense *d, int n, const float *x, float *y);

/* Number of compute threads: HEIMDEX_EMBED_THREADS if set (>0), else the CPUs
 * in this process's affinity mask. */
int hx__embed_threads(void);

#endif
