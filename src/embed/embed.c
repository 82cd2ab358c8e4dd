/*
 * embed.c - the public embedder: model registry and directory resolution,
 * sentence-transformers configuration (modules.json, pooling, Normalize,
 * max_seq_length), batching, and the built-in lexical model.
 *
 * Batching: texts are tokenized, sorted by token count and cut into
 * sub-batches of at most HX_BATCH_SEQS sequences / HX_BATCH_TOKENS tokens,
 * which bert.c runs packed without padding; results go back in input order.
 */
#include "embed/embed.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embed/bert.h"
#include "embed/embed_int.h"
#include "embed/lexical.h"
#include "embed/tokenizer.h"
#include "util/log.h"

#define HX_BATCH_SEQS 64
#define HX_BATCH_TOKENS 8192
#define HX_MAX_DENSE 4

struct hx_embedder {
  hx_model_info info;       /* info.dim: the output width (after Dense modules) */
  hx_bert *bert;            /* owned; NULL for lexical */
  hx_tokenizer *tok;        /* owned; NULL for lexical */
  int pooling;              /* HX_POOL_* */
  hx__dense dense[HX_MAX_DENSE]; /* owned weights; applied in order after pooling */
  char dense_path[HX_MAX_DENSE][256];
  int ndense;
  int normalize;
  int max_len;              /* incl. [CLS]/[SEP] */
  int threads;
};

static const struct { const char *alias; const char *dirs[2]; } registry[] = {
  {"minilm-l6-v2", {"all-MiniLM-L6-v2", "minilm-l6-v2"}},
  {"minilm-l12-v2", {"all-MiniLM-L12-v2", "minilm-l12-v2"}},
};

static int is_dir(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The directory of a model name; HX_ENOENT when there is none. */
static int resolve(const char *models_dir, const char *name, char *dir, size_t cap, hx_err *err) {
  if (!name[0] || name[0] == '.' || strchr(name, '/') || strlen(name) >= 64)
    return hx_err_setst(err, HX_ENOENT, 400, "unknown model '%s'", name);
  if (!models_dir)
    return hx_err_setst(err, HX_ENOENT, 400, "unknown model '%s' (no models directory configured)", name);
  for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
    if (strcmp(name, registry[i].alias) == 0) {
      for (int j = 0; j < 2; j++) {
        if (hx__embed_path(dir, cap, models_dir, registry[i].dirs[j], err)) return HX_EINVAL;
        if (is_dir(dir)) return 0;
      }
      return hx_err_setst(err, HX_ENOENT, 400, "model '%s' is not installed (expected %s/%s)", name,
                          models_dir, registry[i].dirs[0]);
    }
  if (hx__embed_path(dir, cap, models_dir, name, err)) return HX_EINVAL;
  if (!is_dir(dir))
    return hx_err_setst(err, HX_ENOENT, 400, "unknown model '%s' (not built in, no directory %s)", name, dir);
  return 0;
}

/* The alias a directory is known under, or the directory name itself. */
static const char *alias_of(const char *dirname) {
  for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
    for (int j = 0; j < 2; j++)
      if (strcmp(dirname, registry[i].dirs[j]) == 0) return registry[i].alias;
  return dirname;
}

/* modules.json + the pooling config + sentence_bert_config.json. */
static int read_st_config(const char *dir, hx_embedder *e, int *max_seq, hx_err *err) {
  char path[4096], sub[4096];
  json_t *mods = NULL, *pool = NULL, *sb = NULL, *m;
  const char *pool_dir = NULL;
  size_t i;
  int rc;

  e->pooling = HX_POOL_MEAN;
  e->normalize = 0;
  e->ndense = 0;
  *max_seq = 0;
  if ((rc = hx__embed_path(path, sizeof path, dir, "modules.json", err)) ||
      (rc = hx__embed_json_load(path, 1, &mods, err)))
    goto out;
  if (mods && !json_is_array(mods)) {
    rc = hx_err_set(err, HX_ECORRUPT, "%s: not a JSON array of modules", path);
    goto out;
  }
  json_array_foreach(mods, i, m) {
    const char *type = json_string_value(json_object_get(m, "type"));
    const char *p = json_string_value(json_object_get(m, "path"));
    if (!type) {
      rc = hx_err_set(err, HX_ECORRUPT, "%s: module %zu has no type", path, i);
      goto out;
    }
    const char *dot = strrchr(type, '.');
    const char *base = dot ? dot + 1 : type;
    if (strcmp(base, "Transformer") == 0) continue;
    if (strcmp(base, "Pooling") == 0) { pool_dir = p ? p : ""; continue; }
    if (strcmp(base, "Normalize") == 0) { e->normalize = 1; continue; }
    if (strcmp(base, "Dense") == 0) {
      if (e->normalize || e->ndense == HX_MAX_DENSE || !p || !*p || p[0] == '/' || strstr(p, "..") ||
          strlen(p) >= sizeof e->dense_path[0]) {
        rc = hx_err_set(err, HX_EUNSUPP, "%s: module %zu: Dense modules are supported after pooling, before "
                        "Normalize, at most %d, each in its own subdirectory", path, i, HX_MAX_DENSE);
        goto out;
      }
      if ((rc = hx__dense_config(dir, p, &e->dense[e->ndense], err))) goto out;
      snprintf(e->dense_path[e->ndense++], sizeof e->dense_path[0], "%s", p);
      continue;
    }
    rc = hx_err_set(err, HX_EUNSUPP, "%s: module type '%s' is not supported", path, type);
    goto out;
  }
  if (pool_dir) {
    if ((rc = hx__embed_path(sub, sizeof sub, dir, pool_dir, err)) ||
        (rc = hx__embed_path(path, sizeof path, sub, "config.json", err)) ||
        (rc = hx__embed_json_load(path, 0, &pool, err)))
      goto out;
    static const struct { const char *key; int mode; } modes[] = {
      {"pooling_mode_cls_token", HX_POOL_CLS}, {"pooling_mode_mean_tokens", HX_POOL_MEAN},
      {"pooling_mode_max_tokens", HX_POOL_MAX}, {"pooling_mode_mean_sqrt_len_tokens", HX_POOL_MEAN_SQRT},
      {"pooling_mode_lasttoken", HX_POOL_LAST}};
    int on = 0;
    for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++)
      if (json_is_true(json_object_get(pool, modes[k].key))) {
        e->pooling = modes[k].mode;
        on++;
      }
    /* several modes at once would be their concatenation; weighted mean needs
     * position weights: neither is implemented */
    if (on != 1 || json_is_true(json_object_get(pool, "pooling_mode_weightedmean_tokens"))) {
      rc = hx_err_set(err, HX_EUNSUPP, "%s: exactly one of cls / mean / max / mean_sqrt_len_tokens / lasttoken "
                      "pooling is supported", path);
      goto out;
    }
  }
  if ((rc = hx__embed_path(path, sizeof path, dir, "sentence_bert_config.json", err)) ||
      (rc = hx__embed_json_load(path, 1, &sb, err)))
    goto out;
  json_t *ms = json_object_get(sb, "max_seq_length");
  if (ms) {
    if (!json_is_integer(ms) || json_integer_value(ms) < 3 || json_integer_value(ms) > 1000000) {
      rc = hx_err_set(err, HX_ECORRUPT, "%s: max_seq_length must be an integer >= 3", path);
      goto out;
    }
    *max_seq = (int)json_integer_value(ms);
  }
out:
  json_decref(mods);
  json_decref(pool);
  json_decref(sb);
  return rc;
}

int hx_embedder_open(const char *models_dir, const char *name, int vector_size, hx_embedder **out,
                     hx_err *err) {
  char dir[4096];
  hx_embedder *e = NULL;
  int rc = 0, max_seq = 0, tok_max = 0;

  *out = NULL;
  if (!name) return hx_err_set(err, HX_EINVAL, "model name is NULL");
  e = calloc(1, sizeof *e);
  if (!e) return hx_err_set(err, HX_ENOMEM, "out of memory");
  e->threads = hx__embed_threads();
  if (strcmp(name, "lexical") == 0) {
    if (vector_size <= 0 || vector_size > 65536) {
      rc = hx_err_set(err, HX_EINVAL, "lexical model needs a vector size in 1..65536, got %d", vector_size);
      goto out;
    }
    snprintf(e->info.name, sizeof e->info.name, "lexical");
    snprintf(e->info.version, sizeof e->info.version, "v1");
    snprintf(e->info.kind, sizeof e->info.kind, "lexical");
    e->info.dim = vector_size;
    e->normalize = 1;
    goto done;
  }
  if ((rc = resolve(models_dir, name, dir, sizeof dir, err))) goto out;
  if ((rc = hx_bert_load(dir, &e->bert, err))) goto out;
  if ((rc = hx_tokenizer_load(dir, &e->tok, &tok_max, err))) goto out;
  if ((rc = read_st_config(dir, e, &max_seq, err))) goto out;
  const hx_bert_config *c = hx_bert_config_of(e->bert);
  if ((size_t)c->vocab < hx_tokenizer_vocab_size(e->tok)) {
    rc = hx_err_set(err, HX_ECORRUPT, "%s: the tokenizer has %zu tokens but config.json's vocab_size is %d",
                    dir, hx_tokenizer_vocab_size(e->tok), c->vocab);
    goto out;
  }
  e->max_len = max_seq ? max_seq : tok_max ? tok_max : c->max_pos;
  if (e->max_len > c->max_pos) e->max_len = c->max_pos;
  snprintf(e->info.name, sizeof e->info.name, "%s", name);
  if ((rc = hx__embed_model_version(dir, e->info.version, err))) goto out;
  snprintf(e->info.kind, sizeof e->info.kind, "bert");
  snprintf(e->info.precision, sizeof e->info.precision, "f32");
  e->info.dim = c->hidden;
  for (int k = 0; k < e->ndense; k++) {
    if (e->dense[k].in != e->info.dim) {
      rc = hx_err_set(err, HX_ECORRUPT, "%s/%s/config.json: in_features is %d but the vector before it has %d",
                      dir, e->dense_path[k], e->dense[k].in, e->info.dim);
      goto out;
    }
    if ((rc = hx__dense_load(dir, e->dense_path[k], &e->dense[k], err))) goto out;
    e->info.dim = e->dense[k].out;
  }
  e->info.max_tokens = e->max_len;
  const char *prec = getenv("HEIMDEX_EMBED_PRECISION");
  if (prec && *prec) {
    if ((rc = hx_embedder_set_precision(e, prec, err))) goto out;
  } else {
    /* default: f32 through prepacked oneDNN matmuls with fused bias + GELU,
     * the same math as dnnl_sgemm (same 1e-4 fixtures) and 22-24% faster on
     * the batched bench shapes; plain sgemm where the library cannot pack */
    hx_err e2 = {0};
    if (hx_embedder_set_precision(e, "f32-packed", &e2))
      hx_log(HX_LOG_WARN, "embed_precision_fallback",
             json_pack("{s:s,s:s,s:s}", "model", e->info.name, "using", "f32", "error", e2.msg));
  }
done:
  *out = e;
  e = NULL;
out:
  hx_embedder_free(e);
  return rc;
}

void hx_embedder_free(hx_embedder *e) {
  if (!e) return;
  hx_bert_free(e->bert);
  hx_tokenizer_free(e->tok);
  for (int k = 0; k < e->ndense; k++) hx__dense_release(&e->dense[k]);
  free(e);
}

const hx_model_info *hx_embedder_info(const hx_embedder *e) { return &e->info; }

void hx_embedder_set_threads(hx_embedder *e, int n) { e->threads = n > 0 ? n : 1; }

int hx_embed_threads_for(int workers) {
  const char *s = getenv("HEIMDEX_EMBED_THREADS");
  if (s && atoi(s) > 0) return hx__embed_threads();
  int n = hx__embed_threads() / (workers > 0 ? workers : 1);
  return n > 0 ? n : 1;
}

int hx_embedder_set_precision(hx_embedder *e, const char *precision, hx_err *err) {
  int p;
  if (strcmp(precision, "f32") == 0) p = HX_PREC_F32;
  else if (strcmp(precision, "bf16") == 0) p = HX_PREC_BF16;
  else if (strcmp(precision, "f32-packed") == 0) p = HX_PREC_F32_PACKED;
  else return hx_err_set(err, HX_EINVAL, "unknown precision '%s' (f32-packed, f32 or bf16)", precision);
  if (!e->bert) return 0;
  int rc = hx_bert_set_precision(e->bert, p, err);
  /* a failed change leaves plain f32 (hx_bert_set_precision drops the packed weights first) */
  snprintf(e->info.precision, sizeof e->info.precision, "%s", rc ? "f32" : precision);
  return rc;
}

static void l2_normalize(float *v, int n) {
  double ss = 0;
  for (int i = 0; i < n; i++) ss += (double)v[i] * v[i];
  if (ss <= 0) return;
  float inv = (float)(1.0 / sqrt(ss));
  for (int i = 0; i < n; i++) v[i] *= inv;
}

typedef struct item {
  int idx, len;
} item;

static int cmp_len(const void *a, const void *b) {
  const item *x = a, *y = b;
  if (x->len != y->len) return x->len < y->len ? -1 : 1;
  return x->idx - y->idx;
}

/* Prefix err's message with "text i: " (the message is copied first: it is
 * both the source and the destination). */
static int text_error(hx_err *err, int rc, size_t i, size_t n) {
  char m[sizeof err->msg];
  if (!err || n <= 1) return rc;
  snprintf(m, sizeof m, "%s", err->msg);
  return hx_err_setst(err, rc, 422, "text %zu: %s", i, m);
}

/* One text failed validation: with status[] record it and go on (zero
 * vector), without it fail the whole call. */
static int reject(int *status, float *out, int dim, size_t i, int rc) {
  if (!status) return rc;
  status[i] = rc;
  memset(out + i * (size_t)dim, 0, (size_t)dim * sizeof *out);
  return 0;
}

static int embed_bert(hx_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                      float *out, int *ntokens, int *truncated, int *status, hx_err *err) {
  /* H: the encoder's width (pooled vectors), D: the output width after the
   * Dense modules, W: the widest vector in between */
  const int H = hx_bert_config_of(e->bert)->hidden, D = e->info.dim, ML = e->max_len;
  int32_t *ids = NULL, *packed = NULL;
  item *items = NULL;
  int *blens = NULL, W = H;
  float *pooled = NULL, *dense = NULL;
  int rc = 0;

  for (int k = 0; k < e->ndense; k++) W = e->dense[k].out > W ? e->dense[k].out : W;
  ids = malloc(n * (size_t)ML * sizeof *ids);
  items = malloc(n * sizeof *items);
  packed = malloc(((size_t)HX_BATCH_TOKENS + (size_t)ML) * sizeof *packed);
  blens = malloc(HX_BATCH_SEQS * sizeof *blens);
  pooled = malloc((size_t)HX_BATCH_SEQS * W * sizeof *pooled);
  dense = e->ndense ? malloc((size_t)HX_BATCH_SEQS * W * sizeof *dense) : NULL;
  if (!ids || !items || !packed || !blens || !pooled || (e->ndense && !dense)) {
    rc = hx_err_set(err, HX_ENOMEM, "out of memory for %zu texts", n);
    goto out;
  }
  size_t m = 0; /* texts that go through the model */
  for (size_t i = 0; i < n; i++) {
    size_t len = lens ? lens[i] : strlen(texts[i]);
    int nt = 0, tr = 0;
    if (ntokens) ntokens[i] = 0;
    if (truncated) truncated[i] = 0;
    if ((rc = hx_tokenizer_encode(e->tok, texts[i], len, ML, ids + i * (size_t)ML, &nt, &tr, err))) {
      if ((rc = reject(status, out, D, i, text_error(err, rc, i, n)))) goto out;
      continue;
    }
    if (nt <= 2) {
      rc = n > 1 ? hx_err_setst(err, HX_EINVAL, 422, "text %zu is empty or whitespace-only", i)
                 : hx_err_setst(err, HX_EINVAL, 422, "text is empty or whitespace-only");
      if ((rc = reject(status, out, D, i, rc))) goto out;
      continue;
    }
    if (status) status[i] = 0;
    items[m].idx = (int)i;
    items[m++].len = nt;
    if (ntokens) ntokens[i] = nt;
    if (truncated) truncated[i] = tr;
  }
  qsort(items, m, sizeof *items, cmp_len);
  for (size_t a = 0; a < m;) {
    size_t b = a;
    int T = 0;
    while (b < m && b - a < HX_BATCH_SEQS && (T == 0 || T + items[b].len <= HX_BATCH_TOKENS)) {
      memcpy(packed + T, ids + (size_t)items[b].idx * ML, (size_t)items[b].len * sizeof *packed);
      blens[b - a] = items[b].len;
      T += items[b].len;
      b++;
    }
    if ((rc = hx_bert_forward(e->bert, packed, blens, (int)(b - a), e->pooling, e->threads, pooled, err)))
      goto out;
    float *v = pooled, *spare = dense;
    for (int k = 0; k < e->ndense; k++) {
      if (hx__dense_apply(&e->dense[k], (int)(b - a), v, spare)) {
        rc = hx_err_set(err, HX_EINVAL, "Dense module %s failed", e->dense_path[k]);
        goto out;
      }
      float *t = v;
      v = spare;
      spare = t;
    }
    for (size_t k = a; k < b; k++) {
      float *o = out + (size_t)items[k].idx * D;
      memcpy(o, v + (k - a) * (size_t)D, (size_t)D * sizeof *o);
      if (e->normalize) l2_normalize(o, D);
    }
    a = b;
  }
out:
  free(ids);
  free(items);
  free(packed);
  free(blens);
  free(pooled);
  free(dense);
  return rc;
}

static int embed_any(hx_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                     float *out, int *ntokens, int *truncated, int *status, hx_err *err) {
  if (n == 0) return 0;
  if (e->bert) return embed_bert(e, texts, lens, n, out, ntokens, truncated, status, err);
  for (size_t i = 0; i < n; i++) {
    size_t len = lens ? lens[i] : strlen(texts[i]);
    int words = 0, rc;
    if (truncated) truncated[i] = 0;
    if (ntokens) ntokens[i] = 0;
    rc = hx_lexical_embed(texts[i], len, e->info.dim, out + i * (size_t)e->info.dim, &words, err);
    if (rc) {
      if ((rc = reject(status, out, e->info.dim, i, text_error(err, rc, i, n)))) return rc;
      continue;
    }
    if (status) status[i] = 0;
    if (ntokens) ntokens[i] = words;
  }
  return 0;
}

int hx_embedder_embed(hx_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                      float *out, int *ntokens, int *truncated, hx_err *err) {
  return embed_any(e, texts, lens, n, out, ntokens, truncated, NULL, err);
}

int hx_embedder_embed_each(hx_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                           float *out, int *ntokens, int *truncated, int *status, hx_err *err) {
  return embed_any(e, texts, lens, n, out, ntokens, truncated, status, err);
}

/* ---- listing ---- */

static int cmp_info(const void *a, const void *b) {
  return strcmp(((const hx_model_info *)a)->name, ((const hx_model_info *)b)->name);
}

/* Cheap description of an installed BERT directory (no weights read). */
static int describe(const char *models_dir, const char *dirname, hx_model_info *mi) {
  char dir[4096], path[4096];
  hx_bert_config c;
  json_t *sb = NULL, *tc = NULL;

  if (hx__embed_path(dir, sizeof dir, models_dir, dirname, NULL) || !is_dir(dir)) return -1;
  if (hx__embed_path(path, sizeof path, dir, "model.safetensors", NULL) || access(path, R_OK) != 0) return -1;
  if (hx__embed_path(path, sizeof path, dir, "config.json", NULL) || hx_bert_config_load(path, &c, NULL))
    return -1;
  memset(mi, 0, sizeof *mi);
  snprintf(mi->name, sizeof mi->name, "%s", alias_of(dirname));
  if (hx__embed_model_version(dir, mi->version, NULL)) return -1;
  snprintf(mi->kind, sizeof mi->kind, "bert");
  mi->dim = c.hidden;
  {
    /* Dense modules set the output width (configs only; a broken one is
     * reported when the model is opened) */
    hx_embedder st = {0};
    int ms = 0;
    if (read_st_config(dir, &st, &ms, NULL) == 0 && st.ndense) mi->dim = st.dense[st.ndense - 1].out;
  }
  mi->max_tokens = c.max_pos;
  if (!hx__embed_path(path, sizeof path, dir, "sentence_bert_config.json", NULL) &&
      !hx__embed_json_load(path, 1, &sb, NULL) && sb) {
    json_int_t m = json_integer_value(json_object_get(sb, "max_seq_length"));
    if (m > 2 && m < mi->max_tokens) mi->max_tokens = (int)m;
  } else if (!hx__embed_path(path, sizeof path, dir, "tokenizer_config.json", NULL) &&
             !hx__embed_json_load(path, 1, &tc, NULL) && tc) {
    json_int_t m = json_integer_value(json_object_get(tc, "model_max_length"));
    if (m > 2 && m < mi->max_tokens) mi->max_tokens = (int)m;
  }
  json_decref(sb);
  json_decref(tc);
  return 0;
}

int hx_models_list(const char *models_dir, int vector_size, hx_model_info **out, size_t *n,
                   hx_err *err) {
  hx_model_info *v = NULL;
  size_t cnt = 0, cap = 8;
  DIR *d = NULL;
  struct dirent *de;
  int rc = 0;

  *out = NULL;
  *n = 0;
  v = calloc(cap, sizeof *v);
  if (!v) return hx_err_set(err, HX_ENOMEM, "out of memory");
  if (models_dir && (d = opendir(models_dir)) != NULL) {
    while ((de = readdir(d)) != NULL) {
      if (de->d_name[0] == '.' || strlen(de->d_name) >= 64) continue;
      if (cnt + 1 == cap) {
        hx_model_info *nv = realloc(v, cap * 2 * sizeof *nv);
        if (!nv) { rc = hx_err_set(err, HX_ENOMEM, "out of memory"); goto out; }
        v = nv;
        cap *= 2;
      }
      if (describe(models_dir, de->d_name, &v[cnt]) != 0) continue;
      int dup = 0;
      for (size_t k = 0; k < cnt; k++) dup |= strcmp(v[k].name, v[cnt].name) == 0;
      if (!dup) cnt++;
    }
  }
  qsort(v, cnt, sizeof *v, cmp_info);
  memset(&v[cnt], 0, sizeof v[cnt]);
  snprintf(v[cnt].name, sizeof v[cnt].name, "lexical");
  snprintf(v[cnt].version, sizeof v[cnt].version, "v1");
  snprintf(v[cnt].kind, sizeof v[cnt].kind, "lexical");
  v[cnt].dim = vector_size;
  cnt++;
  /* default: minilm-l6-v2, else the first BERT model, else lexical */
  size_t def = 0;
  for (size_t k = 0; k < cnt; k++)
    if (strcmp(v[k].name, "minilm-l6-v2") == 0) def = k;
  v[def].is_default = 1;
  *out = v;
  *n = cnt;
  v = NULL;
out:
  if (d) closedir(d);
  free(v);
  return rc;
}

int hx_model_describe(const char *models_dir, const char *name, int vector_size,
                      hx_model_info *out, hx_err *err) {
  char dir[4096];
  int rc;

  memset(out, 0, sizeof *out);
  if (name && strcmp(name, "lexical") == 0) {
    if (vector_size <= 0 || vector_size > 65536)
      return hx_err_set(err, HX_EINVAL, "lexical model needs a vector size in 1..65536, got %d", vector_size);
    snprintf(out->name, sizeof out->name, "lexical");
    snprintf(out->version, sizeof out->version, "v1");
    snprintf(out->kind, sizeof out->kind, "lexical");
    out->dim = vector_size;
  } else {
    if (!name) return hx_err_set(err, HX_EINVAL, "model name is NULL");
    if ((rc = resolve(models_dir, name, dir, sizeof dir, err))) return rc;
    const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    if (describe(models_dir, base, out) != 0)
      return hx_err_setst(err, HX_ENOENT, 400, "model '%s' in %s has no readable config.json and model.safetensors",
                          name, dir);
    snprintf(out->name, sizeof out->name, "%s", name);
  }
  char def[64] = "";
  if (hx_models_default(models_dir, def, sizeof def, NULL) == 0 && strcmp(def, out->name) == 0)
    out->is_default = 1;
  return 0;
}

int hx_model_dir(const char *models_dir, const char *name, char *dir, size_t cap, hx_err *err) {
  if (!name) return hx_err_set(err, HX_EINVAL, "model name is NULL");
  if (strcmp(name, "lexical") == 0) {
    if (cap) dir[0] = 0;
    return 0;
  }
  return resolve(models_dir, name, dir, cap, err);
}

int hx_models_default(const char *models_dir, char *buf, size_t cap, hx_err *err) {
  hx_model_info *v = NULL;
  size_t n = 0;
  int rc = hx_models_list(models_dir, 1, &v, &n, err);
  if (rc) return rc;
  for (size_t k = 0; k < n; k++)
    if (v[k].is_default) snprintf(buf, cap, "%s", v[k].name);
  free(v);
  return 0;
}
