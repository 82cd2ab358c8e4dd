/*
 * bert.c - loading a BertModel from safetensors and running it.
 *
 * All weights live in one F32 block owned by the model. Linear weights are
 * stored transposed to [in, out] at load so every dense layer is one
 * row-major GEMM "activations[T, in] x W[in, out]"; Q, K and V are fused into
 * one [H, 3H] matrix. Biases, GELU, residuals and LayerNorm are applied in
 * one pass over each GEMM's output (kernels.c). Sequences are packed without
 * padding (see bert.h), so a batch of mixed lengths costs what its real
 * tokens cost.
 *
 * Workspaces are pooled: a forward call takes one from the pool (or makes
 * one), grows it when needed and returns it, so steady-state calls do not
 * allocate or fault in fresh pages.
 */
#include "embed/bert.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "embed/embed_int.h"
#include "embed/gemm.h"
#include "embed/kernels.h"
#include "embed/safetensors.h"

typedef struct layer {
  float *wqkv, *bqkv;    /* [H, 3H], [3H] */
  float *wo, *bo;        /* [H, H], [H] */
  float *ln1g, *ln1b;
  float *wi, *bi;        /* [H, I], [I] */
  float *wo2, *bo2;      /* [I, H], [H] */
  float *ln2g, *ln2b;
  hx__mm *mqkv, *mo, *mi, *mo2;  /* owned; packed GEMMs when prec != F32 */
} layer;

typedef struct ws {
  float *buf;            /* owned */
  size_t cap;            /* floats */
  struct ws *next;
} ws;

struct hx_bert {
  hx_bert_config c;
  float *blob;           /* owned: every weight below points into it */
  float *word, *pos, *type0, *lng, *lnb;
  layer *L;              /* owned, c.layers entries */
  int prec;              /* HX_PREC_* */
  pthread_mutex_t mu;    /* guards pool */
  ws *pool;              /* owned: idle workspaces */
  int active;            /* hx_bert_forward calls running (atomic) */
};

static int cfg_int(json_t *root, const char *key, int *out, int required, const char *path,
                   hx_err *err) {
  json_t *v = json_object_get(root, key);
  if (!v) {
    if (!required) return 0;
    return hx_err_set(err, HX_ECORRUPT, "%s: missing \"%s\"", path, key);
  }
  if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > (1 << 24))
    return hx_err_set(err, HX_ECORRUPT, "%s: \"%s\" must be a positive integer", path, key);
  *out = (int)json_integer_value(v);
  return 0;
}

int hx_bert_config_load(const char *path, hx_bert_config *c, hx_err *err) {
  json_t *root = NULL;
  int rc;

  memset(c, 0, sizeof *c);
  c->type_vocab = 2;
  c->eps = 1e-12f;
  if ((rc = hx__embed_json_load(path, 0, &root, err))) return rc;
  if (!json_is_object(root)) {
    rc = hx_err_set(err, HX_ECORRUPT, "%s: not a JSON object", path);
    goto out;
  }
  const char *mt = json_string_value(json_object_get(root, "model_type"));
  if (mt && strcmp(mt, "bert") != 0) {
    rc = hx_err_set(err, HX_EUNSUPP, "%s: model_type \"%s\" is not supported (only bert)", path, mt);
    goto out;
  }
  const char *act = json_string_value(json_object_get(root, "hidden_act"));
  if (act && strcmp(act, "gelu") != 0) {
    rc = hx_err_set(err, HX_EUNSUPP, "%s: hidden_act \"%s\" is not supported (only gelu)", path, act);
    goto out;
  }
  const char *pe = json_string_value(json_object_get(root, "position_embedding_type"));
  if (pe && strcmp(pe, "absolute") != 0) {
    rc = hx_err_set(err, HX_EUNSUPP, "%s: position_embedding_type \"%s\" is not supported", path, pe);
    goto out;
  }
  if ((rc = cfg_int(root, "hidden_size", &c->hidden, 1, path, err)) ||
      (rc = cfg_int(root, "num_hidden_layers", &c->layers, 1, path, err)) ||
      (rc = cfg_int(root, "num_attention_heads", &c->heads, 1, path, err)) ||
      (rc = cfg_int(root, "intermediate_size", &c->inter, 1, path, err)) ||
      (rc = cfg_int(root, "vocab_size", &c->vocab, 1, path, err)) ||
      (rc = cfg_int(root, "max_position_embeddings", &c->max_pos, 1, path, err)) ||
      (rc = cfg_int(root, "type_vocab_size", &c->type_vocab, 0, path, err)))
    goto out;
  json_t *eps = json_object_get(root, "layer_norm_eps");
  if (eps) {
    if (!json_is_number(eps) || json_number_value(eps) <= 0 || json_number_value(eps) > 1) {
      rc = hx_err_set(err, HX_ECORRUPT, "%s: \"layer_norm_eps\" must be a small positive number", path);
      goto out;
    }
    c->eps = (float)json_number_value(eps);
  }
  if (c->hidden % c->heads != 0 || c->hidden / c->heads > 256) {
    rc = hx_err_set(err, HX_ECORRUPT, "%s: hidden_size %d is not a multiple of num_attention_heads %d "
                    "(head size at most 256)", path, c->hidden, c->heads);
    goto out;
  }
out:
  json_decref(root);
  return rc;
}

/* ---- weights ---- */

typedef struct loader {
  hx_safetensors *st;
  const char *prefix;    /* "" or "bert." */
  float *tmp;            /* owned scratch for transposes */
  size_t tmpcap;
} loader;

static const hx_st_tensor *find(loader *ld, const char *name, const char *alt) {
  char full[256];
  const hx_st_tensor *t;
  snprintf(full, sizeof full, "%s%s", ld->prefix, name);
  t = hx_safetensors_find(ld->st, full);
  if (!t && alt) {
    snprintf(full, sizeof full, "%s%s", ld->prefix, alt);
    t = hx_safetensors_find(ld->st, full);
  }
  return t;
}

/* Load tensor `name` (or `alt`) of shape [rows, cols] (cols = 0: a vector of
 * rows) into dst, transposed to [cols, rows] when transpose is set. */
static int get(loader *ld, const char *name, const char *alt, int64_t rows, int64_t cols,
               int transpose, float *dst, hx_err *err) {
  const char *path = hx_safetensors_path(ld->st);
  const hx_st_tensor *t = find(ld, name, alt);
  int rc;

  if (!t) return hx_err_set(err, HX_ECORRUPT, "%s: missing tensor '%s%s'", path, ld->prefix, name);
  int ok = cols ? (t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols)
                : (t->ndim == 1 && t->shape[0] == rows);
  if (!ok)
    return hx_err_set(err, HX_ECORRUPT, "%s: tensor '%s' has shape [%lld%s%lld], config.json implies [%lld%s%lld]",
                      path, t->name, (long long)t->shape[0], t->ndim > 1 ? ", " : "",
                      t->ndim > 1 ? (long long)t->shape[1] : 0LL, (long long)rows, cols ? ", " : "",
                      (long long)cols);
  if (t->dtype != HX_ST_F32 && t->dtype != HX_ST_F16 && t->dtype != HX_ST_BF16)
    return hx_err_set(err, HX_EUNSUPP, "%s: tensor '%s' is not F32, F16 or BF16", path, t->name);
  if (!transpose) return hx_safetensors_to_f32(t, dst, err);
  if ((size_t)t->nelem > ld->tmpcap) {
    float *n = realloc(ld->tmp, (size_t)t->nelem * sizeof *n);
    if (!n) return hx_err_set(err, HX_ENOMEM, "out of memory loading %s", path);
    ld->tmp = n;
    ld->tmpcap = (size_t)t->nelem;
  }
  if ((rc = hx_safetensors_to_f32(t, ld->tmp, err))) return rc;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dst[c * rows + r] = ld->tmp[r * cols + c];
  return 0;
}

int hx_bert_load(const char *dir, hx_bert **out, hx_err *err) {
  char path[4096];
  hx_bert *b = NULL;
  loader ld = {0};
  int rc;

  *out = NULL;
  b = calloc(1, sizeof *b);
  if (!b) return hx_err_set(err, HX_ENOMEM, "out of memory");
  pthread_mutex_init(&b->mu, NULL);
  if ((rc = hx__embed_path(path, sizeof path, dir, "config.json", err)) ||
      (rc = hx_bert_config_load(path, &b->c, err)))
    goto out;
  if ((rc = hx__embed_path(path, sizeof path, dir, "model.safetensors", err)) ||
      (rc = hx_safetensors_open(path, &ld.st, err)))
    goto out;
  ld.prefix = hx_safetensors_find(ld.st, "bert.embeddings.word_embeddings.weight") ? "bert." : "";

  const hx_bert_config *c = &b->c;
  size_t H = (size_t)c->hidden, I = (size_t)c->inter;
  size_t per_layer = H * 3 * H + 3 * H + H * H + H + 2 * H + H * I + I + I * H + H + 2 * H;
  size_t total = (size_t)c->vocab * H + (size_t)c->max_pos * H + H + 2 * H + per_layer * (size_t)c->layers;
  b->blob = malloc(total * sizeof(float));
  b->L = calloc((size_t)c->layers, sizeof *b->L);
  if (!b->blob || !b->L) {
    rc = hx_err_set(err, HX_ENOMEM, "out of memory for %zu weights", total);
    goto out;
  }
  float *p = b->blob;
#define TAKE(n) (p += (n), p - (n))
  b->word = TAKE((size_t)c->vocab * H);
  b->pos = TAKE((size_t)c->max_pos * H);
  b->type0 = TAKE(H);
  b->lng = TAKE(H);
  b->lnb = TAKE(H);
  if ((rc = get(&ld, "embeddings.word_embeddings.weight", NULL, c->vocab, (int64_t)H, 0, b->word, err)) ||
      (rc = get(&ld, "embeddings.position_embeddings.weight", NULL, c->max_pos, (int64_t)H, 0, b->pos, err)) ||
      (rc = get(&ld, "embeddings.LayerNorm.weight", "embeddings.LayerNorm.gamma", (int64_t)H, 0, 0, b->lng, err)) ||
      (rc = get(&ld, "embeddings.LayerNorm.bias", "embeddings.LayerNorm.beta", (int64_t)H, 0, 0, b->lnb, err)))
    goto out;
  {
    const hx_st_tensor *tt = find(&ld, "embeddings.token_type_embeddings.weight", NULL);
    if (tt) {
      /* only row 0 is used: load the whole table through the scratch */
      float *tmp = malloc((size_t)c->type_vocab * H * sizeof *tmp);
      if (!tmp) { rc = hx_err_set(err, HX_ENOMEM, "out of memory"); goto out; }
      rc = get(&ld, "embeddings.token_type_embeddings.weight", NULL, c->type_vocab, (int64_t)H, 0, tmp, err);
      if (!rc) memcpy(b->type0, tmp, H * sizeof *tmp);
      free(tmp);
      if (rc) goto out;
    } else {
      memset(b->type0, 0, H * sizeof(float));
    }
  }
  for (int l = 0; l < c->layers; l++) {
    layer *y = &b->L[l];
    char n1[160], n2[160];
    y->wqkv = TAKE(H * 3 * H);
    y->bqkv = TAKE(3 * H);
    y->wo = TAKE(H * H);
    y->bo = TAKE(H);
    y->ln1g = TAKE(H);
    y->ln1b = TAKE(H);
    y->wi = TAKE(H * I);
    y->bi = TAKE(I);
    y->wo2 = TAKE(I * H);
    y->bo2 = TAKE(H);
    y->ln2g = TAKE(H);
    y->ln2b = TAKE(H);
    static const char *qkv[3] = {"query", "key", "value"};
    float *wt = malloc(H * H * sizeof *wt);
    if (!wt) { rc = hx_err_set(err, HX_ENOMEM, "out of memory"); goto out; }
    for (int j = 0; j < 3 && !rc; j++) {
      snprintf(n1, sizeof n1, "encoder.layer.%d.attention.self.%s.weight", l, qkv[j]);
      snprintf(n2, sizeof n2, "encoder.layer.%d.attention.self.%s.bias", l, qkv[j]);
      rc = get(&ld, n1, NULL, (int64_t)H, (int64_t)H, 1, wt, err);
      if (!rc) rc = get(&ld, n2, NULL, (int64_t)H, 0, 0, y->bqkv + j * H, err);
      /* wt is [in, out] for this projection: place it as columns j*H.. of [H, 3H] */
      for (size_t r = 0; !rc && r < H; r++) memcpy(y->wqkv + r * 3 * H + j * H, wt + r * H, H * sizeof *wt);
    }
    free(wt);
    if (rc) goto out;
#define LN(field, name, alt) \
    snprintf(n1, sizeof n1, "encoder.layer.%d." name, l); \
    snprintf(n2, sizeof n2, "encoder.layer.%d." alt, l); \
    if ((rc = get(&ld, n1, n2, (int64_t)H, 0, 0, y->field, err))) goto out;
#define LIN(wf, bf, name, nin, nout) \
    snprintf(n1, sizeof n1, "encoder.layer.%d." name ".weight", l); \
    if ((rc = get(&ld, n1, NULL, (int64_t)(nout), (int64_t)(nin), 1, y->wf, err))) goto out; \
    snprintf(n1, sizeof n1, "encoder.layer.%d." name ".bias", l); \
    if ((rc = get(&ld, n1, NULL, (int64_t)(nout), 0, 0, y->bf, err))) goto out;
    LIN(wo, bo, "attention.output.dense", H, H)
    LN(ln1g, "attention.output.LayerNorm.weight", "attention.output.LayerNorm.gamma")
    LN(ln1b, "attention.output.LayerNorm.bias", "attention.output.LayerNorm.beta")
    LIN(wi, bi, "intermediate.dense", H, I)
    LIN(wo2, bo2, "output.dense", I, H)
    LN(ln2g, "output.LayerNorm.weight", "output.LayerNorm.gamma")
    LN(ln2b, "output.LayerNorm.bias", "output.LayerNorm.beta")
#undef LN
#undef LIN
  }
#undef TAKE
  *out = b;
  b = NULL;
out:
  free(ld.tmp);
  hx_safetensors_close(ld.st);
  hx_bert_free(b);
  return rc;
}

void hx_bert_free(hx_bert *b) {
  if (!b) return;
  while (b->pool) {
    ws *w = b->pool;
    b->pool = w->next;
    free(w->buf);
    free(w);
  }
  pthread_mutex_destroy(&b->mu);
  for (int l = 0; b->L && l < b->c.layers; l++) {
    hx__mm_free(b->L[l].mqkv);
    hx__mm_free(b->L[l].mo);
    hx__mm_free(b->L[l].mi);
    hx__mm_free(b->L[l].mo2);
  }
  free(b->L);
  free(b->blob);
  free(b);
}

const hx_bert_config *hx_bert_config_of(const hx_bert *b) { return &b->c; }

static void drop_packed(hx_bert *b) {
  for (int l = 0; l < b->c.layers; l++) {
    layer *y = &b->L[l];
    hx__mm_free(y->mqkv);
    hx__mm_free(y->mo);
    hx__mm_free(y->mi);
    hx__mm_free(y->mo2);
    y->mqkv = y->mo = y->mi = y->mo2 = NULL;
  }
}

int hx_bert_set_precision(hx_bert *b, int prec, hx_err *err) {
  const int H = b->c.hidden, I = b->c.inter;
  int rc = 0, dt;

  drop_packed(b);
  b->prec = HX_PREC_F32;
  if (prec == HX_PREC_F32) return 0;
  if (prec == HX_PREC_BF16 && !hx__mm_bf16_supported())
    return hx_err_set(err, HX_EUNSUPP, "this CPU has no native bf16 matrix multiply (avx512_bf16)");
  if (prec != HX_PREC_BF16 && prec != HX_PREC_F32_PACKED)
    return hx_err_set(err, HX_EINVAL, "unknown precision %d", prec);
  dt = prec == HX_PREC_BF16 ? HX_DT_BF16 : HX_DT_F32;
  for (int l = 0; l < b->c.layers && !rc; l++) {
    layer *y = &b->L[l];
    if ((rc = hx__mm_new(H, 3 * H, y->wqkv, NULL, 0, dt, HX_DT_F32, &y->mqkv, err)) ||
        (rc = hx__mm_new(H, H, y->wo, NULL, 0, dt, HX_DT_F32, &y->mo, err)) ||
        (rc = hx__mm_new(H, I, y->wi, y->bi, 1, dt, dt, &y->mi, err)) ||
        (rc = hx__mm_new(I, H, y->wo2, NULL, 0, dt, HX_DT_F32, &y->mo2, err)))
      break;
  }
  if (rc) drop_packed(b);
  else b->prec = prec;
  return rc;
}

double hx_bert_flops(const hx_bert_config *c, const int *lens, int nseq) {
  double H = c->hidden, I = c->inter, f = 0;
  for (int s = 0; s < nseq; s++) {
    double L = lens[s];
    f += L * 2 * (3 * H * H + H * H + 2 * H * I) + 2 * 2 * L * L * H;
  }
  return f * c->layers;
}

/* ---- forward ---- */

static ws *ws_get(hx_bert *b, size_t need) {
  ws *w;
  pthread_mutex_lock(&b->mu);
  w = b->pool;
  if (w) b->pool = w->next;
  pthread_mutex_unlock(&b->mu);
  if (!w && !(w = calloc(1, sizeof *w))) return NULL;
  if (w->cap < need) {
    free(w->buf);
    w->buf = aligned_alloc(64, (need * sizeof(float) + 63) / 64 * 64);
    w->cap = w->buf ? need : 0;
    if (!w->buf) {
      free(w);
      return NULL;
    }
  }
  return w;
}

static void ws_put(hx_bert *b, ws *w) {
  pthread_mutex_lock(&b->mu);
  w->next = b->pool;
  b->pool = w;
  pthread_mutex_unlock(&b->mu);
}

static int forward_chunk(hx_bert *b, const int32_t *ids, const int *lens, int nseq, int pooling,
                         int nthreads, float *out, hx_err *err) {
  const hx_bert_config *c = &b->c;
  const int H = c->hidden, I = c->inter, nh = c->heads, d = H / nh;
  int T = 0, Lmax = 0, rc = 0, nt = nthreads > 0 ? nthreads : 1;
  int *start = NULL;
  ws *w = NULL;

  if (nseq <= 0) return 0;
  start = malloc((size_t)nseq * sizeof *start);
  if (!start) return hx_err_set(err, HX_ENOMEM, "out of memory");
  for (int s = 0; s < nseq; s++) {
    if (lens[s] < 1 || lens[s] > c->max_pos) {
      rc = hx_err_set(err, HX_EINVAL, "sequence %d has %d tokens, the model takes 1..%d", s, lens[s], c->max_pos);
      goto out;
    }
    start[s] = T;
    T += lens[s];
    Lmax = lens[s] > Lmax ? lens[s] : Lmax;
  }
  for (int t = 0; t < T; t++)
    if (ids[t] < 0 || ids[t] >= c->vocab) {
      rc = hx_err_set(err, HX_EINVAL, "token id %d outside the vocabulary (%d)", ids[t], c->vocab);
      goto out;
    }
  size_t per_thread = (hx__kern_attention_scratch(Lmax, d) + 15) & ~(size_t)15;
  const int packed = b->prec != HX_PREC_F32, half = b->prec == HX_PREC_BF16;
  const int attn16 = half && hx__kern_attention_bf16_ok(d); /* attention writes ctxb itself */
  /* bf16 copies of x and ctx ([T, H] each) and of the FFN activation ([T, I]) */
  size_t halfs = half ? ((size_t)T * H * 2 + (size_t)T * I + 64) / 2 : 0;
  size_t need = (size_t)T * H * 3 + (size_t)T * 3 * H + (size_t)T * I + per_thread * (size_t)nt + halfs;
  w = ws_get(b, need);
  if (!w) {
    rc = hx_err_set(err, HX_ENOMEM, "out of memory for a batch of %d tokens", T);
    goto out;
  }
  float *x = w->buf, *tmp = x + (size_t)T * H, *ctx = tmp + (size_t)T * H;
  float *qkv = ctx + (size_t)T * H, *ff = qkv + (size_t)T * 3 * H, *scr = ff + (size_t)T * I;
  uint16_t *xb = (uint16_t *)(scr + per_thread * (size_t)nt), *ctxb = xb + (size_t)T * H;
  uint16_t *ffb = ctxb + (size_t)T * H;
  /* what the packed GEMMs read: bf16 copies, or the f32 buffers themselves */
  const void *xin = half ? (const void *)xb : (const void *)x;
  const void *ctxin = half ? (const void *)ctxb : (const void *)ctx;
  void *ffio = half ? (void *)ffb : (void *)ff;
  hx__gemm_threads(nt);

#pragma omp parallel for num_threads(nt) schedule(static)
  for (int s = 0; s < nseq; s++)
    for (int p = 0; p < lens[s]; p++) {
      int t = start[s] + p;
      float *xr = x + (size_t)t * H;
      const float *we = b->word + (size_t)ids[t] * H, *pe = b->pos + (size_t)p * H;
      for (int i = 0; i < H; i++) xr[i] = we[i] + pe[i];
      hx__kern_add_layernorm(xr, NULL, b->type0, b->lng, b->lnb, (size_t)H, c->eps);
      if (half) hx__to_bf16(xr, xb + (size_t)t * H, (size_t)H);
    }

  const float scale = 1.0f / sqrtf((float)d);
  for (int l = 0; l < c->layers && !rc; l++) {
    const layer *y = &b->L[l];
    if (packed ? hx__mm_run(y->mqkv, T, xin, qkv, err)
               : hx__gemm(T, 3 * H, H, x, H, y->wqkv, 3 * H, 0.0f, qkv, 3 * H))
      goto gemm_fail;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int job = 0; job < nseq * nh; job++) {
      int s = job / nh, h = job % nh;
      const float *base = qkv + (size_t)start[s] * 3 * H + (size_t)h * d;
      float *sc = scr + per_thread * (size_t)omp_get_thread_num();
      if (attn16)
        hx__kern_attention_bf16(base, base + H, base + 2 * H, (size_t)3 * H, y->bqkv + h * d,
                                y->bqkv + H + h * d, y->bqkv + 2 * H + h * d, lens[s], d, scale,
                                ctxb + (size_t)start[s] * H + (size_t)h * d, (size_t)H, sc);
      else
        hx__kern_attention(base, base + H, base + 2 * H, (size_t)3 * H, y->bqkv + h * d,
                           y->bqkv + H + h * d, y->bqkv + 2 * H + h * d, lens[s], d, scale,
                           ctx + (size_t)start[s] * H + (size_t)h * d, (size_t)H, sc);
    }
    if (half && !attn16) {
#pragma omp parallel for num_threads(nt) schedule(static)
      for (int t = 0; t < T; t++) hx__to_bf16(ctx + (size_t)t * H, ctxb + (size_t)t * H, (size_t)H);
    }
    if (packed ? hx__mm_run(y->mo, T, ctxin, tmp, err) : hx__gemm(T, H, H, ctx, H, y->wo, H, 0.0f, tmp, H))
      goto gemm_fail;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < T; t++) {
      hx__kern_add_layernorm(x + (size_t)t * H, tmp + (size_t)t * H, y->bo, y->ln1g, y->ln1b,
                             (size_t)H, c->eps);
      if (half) hx__to_bf16(x + (size_t)t * H, xb + (size_t)t * H, (size_t)H);
    }
    if (packed) {
      /* bias and GELU run inside the GEMM */
      if (hx__mm_run(y->mi, T, xin, ffio, err)) goto gemm_fail;
    } else {
      if (hx__gemm(T, I, H, x, H, y->wi, I, 0.0f, ff, I)) goto gemm_fail;
#pragma omp parallel for num_threads(nt) schedule(static)
      for (int t = 0; t < T; t++) hx__kern_bias_gelu(ff + (size_t)t * I, y->bi, (size_t)I);
    }
    if (packed ? hx__mm_run(y->mo2, T, ffio, tmp, err) : hx__gemm(T, H, I, ff, I, y->wo2, H, 0.0f, tmp, H))
      goto gemm_fail;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < T; t++) {
      hx__kern_add_layernorm(x + (size_t)t * H, tmp + (size_t)t * H, y->bo2, y->ln2g, y->ln2b,
                             (size_t)H, c->eps);
      if (half) hx__to_bf16(x + (size_t)t * H, xb + (size_t)t * H, (size_t)H);
    }
  }

  for (int s = 0; s < nseq; s++) {
    float *o = out + (size_t)s * H;
    const float *xs = x + (size_t)start[s] * H;
    if (pooling == HX_POOL_CLS) {
      memcpy(o, xs, (size_t)H * sizeof *o);
    } else if (pooling == HX_POOL_MAX) {
      memcpy(o, xs, (size_t)H * sizeof *o);
      for (int p = 1; p < lens[s]; p++)
        for (int i = 0; i < H; i++) o[i] = xs[(size_t)p * H + i] > o[i] ? xs[(size_t)p * H + i] : o[i];
    } else if (pooling == HX_POOL_LAST) {
      memcpy(o, xs + (size_t)(lens[s] - 1) * H, (size_t)H * sizeof *o);
    } else {
      const float div = pooling == HX_POOL_MEAN_SQRT ? sqrtf((float)lens[s]) : (float)lens[s];
      for (int i = 0; i < H; i++) o[i] = 0;
      for (int p = 0; p < lens[s]; p++)
        for (int i = 0; i < H; i++) o[i] += xs[(size_t)p * H + i];
      for (int i = 0; i < H; i++) o[i] /= div;
    }
  }
out:
  if (w) ws_put(b, w);
  free(start);
  return rc;
gemm_fail:
  if (!packed) hx_err_set(err, HX_EINVAL, "GEMM failed (batch of %d tokens)", T);
  rc = err && err->code ? err->code : HX_EINVAL;
  goto out;
}

/* Chunks of about HX_BERT_CHUNK_TOKENS tokens bound the workspace and keep a
 * layer's activations (x, qkv, FFN: ~14 KB per token for MiniLM) near the
 * last-level cache. Measured single-threaded at batch 32 x 128: chunks of
 * 256, 1024 and 4096 tokens cost the same CPU time within noise (GEMMs at
 * M >= 256 stay efficient), so the bound is free. */
#define HX_BERT_CHUNK_TOKENS 1024
/* A chunk this small (a query, a batch of one) runs on every thread given
 * while it is the model's only pass: at batch 1 the pass streams every
 * weight once and two cores stream them faster (1x16 f32 1.56-1.64 ms on 2
 * threads vs 2.68-2.93 on one, quiet machine). While other passes run (the
 * API threads embedding queries at once) it takes one thread: ~50 fork/join
 * points with spinning barriers, times several callers, oversubscribe the
 * cores, and a barrier waits a whole slice for a preempted partner. */
#define HX_BERT_SHARED_MIN_TOKENS 48
/* A batch with at least this many tokens per thread (and a sequence per
 * thread) is split across the threads by sequences instead of splitting
 * every GEMM and loop: see hx_bert_forward. */
#define HX_BERT_SPLIT_MIN_TOKENS 192

/* Sequences [0, nseq) in chunks, each forward_chunk on nthreads threads. */
static int forward_seq(hx_bert *b, const int32_t *ids, const int *lens, int nseq, int pooling,
                       int nthreads, float *out, hx_err *err) {
  const char *env = getenv("HEIMDEX_EMBED_CHUNK_TOKENS"); /* tuning knob for benchmarks */
  int chunk = env && atoi(env) > 0 ? atoi(env) : HX_BERT_CHUNK_TOKENS;
  for (int a = 0; a < nseq;) {
    int z = a, T = 0, rc;
    while (z < nseq && (z == a || T + lens[z] <= chunk)) T += lens[z++];
    int nt = T < HX_BERT_SHARED_MIN_TOKENS && __atomic_load_n(&b->active, __ATOMIC_RELAXED) > 1 ? 1 : nthreads;
    if ((rc = forward_chunk(b, ids, lens + a, z - a, pooling, nt, out + (size_t)a * b->c.hidden, err)))
      return rc;
    ids += T;
    a = z;
  }
  return 0;
}

/* One thread's share of a batch: sequences [first, end), whose ids start at
 * token off. */
typedef struct share {
  hx_bert *b;
  const int32_t *ids;
  const int *lens;
  float *out;
  int pooling, first, end, rc;
  long long off;
  hx_err err;
} share;

static void *share_run(void *arg) {
  share *s = arg;
  s->rc = forward_seq(s->b, s->ids + s->off, s->lens + s->first, s->end - s->first, s->pooling, 1,
                      s->out + (size_t)s->first * s->b->c.hidden, &s->err);
  return NULL;
}

/* Data parallelism across sequences: each thread runs whole forward passes
 * on its share of the sequences, single-threaded (GEMMs included). A batch
 * then meets one fork/join instead of ~10 per layer and chunk, each GEMM
 * keeps its rows' activations in its own core's cache, and a thread that the
 * scheduler preempts delays only its own share. The shares run on plain
 * threads joined by blocking, so no thread spins waiting for a preempted
 * partner (libgomp's barriers do, by default). Shares are contiguous runs
 * of sequences with about equal token counts. Batches too small to give
 * every thread HX_BERT_SPLIT_MIN_TOKENS tokens, or with fewer sequences than
 * threads, keep the intra-operator parallelism of forward_seq. */
static int forward_split(hx_bert *b, const int32_t *ids, const int *lens, int nseq, int pooling,
                         int nthreads, float *out, hx_err *err);

int hx_bert_forward(hx_bert *b, const int32_t *ids, const int *lens, int nseq, int pooling,
                    int nthreads, float *out, hx_err *err) {
  __atomic_add_fetch(&b->active, 1, __ATOMIC_RELAXED);
  int rc = forward_split(b, ids, lens, nseq, pooling, nthreads, out, err);
  __atomic_sub_fetch(&b->active, 1, __ATOMIC_RELAXED);
  return rc;
}

static int forward_split(hx_bert *b, const int32_t *ids, const int *lens, int nseq, int pooling,
                         int nthreads, float *out, hx_err *err) {
  long long T = 0;
  for (int s = 0; s < nseq; s++) T += lens[s] > 0 ? lens[s] : 0;
  int nt = nthreads > nseq ? nseq : nthreads;
  if (nt > 1 && T / nt < HX_BERT_SPLIT_MIN_TOKENS) nt = (int)(T / HX_BERT_SPLIT_MIN_TOKENS);
  if (nt <= 1) return forward_seq(b, ids, lens, nseq, pooling, nthreads, out, err);

  share *sh = calloc((size_t)nt, sizeof *sh);
  pthread_t *tid = calloc((size_t)nt, sizeof *tid);
  int *started = calloc((size_t)nt, sizeof *started), g = 0, rc = 0;
  long long acc = 0;
  if (!sh || !tid || !started) {
    free(sh);
    free(tid);
    free(started);
    return forward_seq(b, ids, lens, nseq, pooling, nthreads, out, err);
  }
  for (int k = 0; k < nt; k++) {
    sh[k].b = b;
    sh[k].lens = lens;
    sh[k].pooling = pooling;
    sh[k].ids = ids;
    sh[k].out = out;
  }
  for (int s = 0; s < nseq && g + 1 < nt; s++) {
    acc += lens[s] > 0 ? lens[s] : 0;
    /* close share g once it holds its part of the tokens (or when only as
     * many sequences remain as shares), leaving a sequence for each later one */
    int left = nseq - (s + 1), need = nt - (g + 1);
    if ((acc * nt >= T * (g + 1) && left >= need) || left == need) {
      sh[g].end = s + 1;
      sh[++g].first = s + 1;
      sh[g].off = acc;
    }
  }
  sh[nt - 1].end = nseq; /* nseq >= nt, so every share got its first above */
  /* plain threads, joined by blocking: nothing spins while a share is
   * still running (see OMP_WAIT_POLICY in docs/embed.md) */
  for (int k = 1; k < nt; k++) started[k] = pthread_create(&tid[k], NULL, share_run, &sh[k]) == 0;
  share_run(&sh[0]);
  for (int k = 1; k < nt; k++) {
    if (started[k]) pthread_join(tid[k], NULL);
    else share_run(&sh[k]); /* no thread: run it here */
  }
  for (int k = 0; k < nt && !rc; k++)
    if ((rc = sh[k].rc) && err) *err = sh[k].err;
  free(sh);
  free(tid);
  free(started);
  return rc;
}
