/*
 * dense.c - sentence-transformers' Dense module (models.Dense): y =
 * activation(W x + b) on the pooled sentence vector, as LaBSE and some other
 * ST models add after pooling to change the width or the space.
 *
 * A module directory <model>/<path>/ holds config.json
 *   {"in_features": I, "out_features": O, "bias": true|false,
 *    "activation_function": "torch.nn.modules.activation.Tanh" | "...Identity"}
 * and model.safetensors with "linear.weight" [O, I] and, with bias,
 * "linear.bias" [O] (F32, F16 or BF16). Other activations, and modules saved
 * only as pytorch_model.bin (a Python pickle), are refused (HX_EUNSUPP naming
 * the file). The weights stay in PyTorch's [out, in] layout; a batch of
 * pooled vectors is one GEMM (x W^T) plus the bias and activation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "embed/embed_int.h"
#include "embed/gemm.h"
#include "embed/safetensors.h"

int hx__dense_config(const char *dir, const char *path, hx__dense *d, hx_err *err) {
  char sub[4096], p[4096];
  json_t *root = NULL;
  int rc;

  memset(d, 0, sizeof *d);
  if ((rc = hx__embed_path(sub, sizeof sub, dir, path, err)) ||
      (rc = hx__embed_path(p, sizeof p, sub, "config.json", err)) ||
      (rc = hx__embed_json_load(p, 0, &root, err)))
    return rc;
  json_t *in = json_object_get(root, "in_features"), *out = json_object_get(root, "out_features");
  json_t *bias = json_object_get(root, "bias");
  const char *act = json_string_value(json_object_get(root, "activation_function"));
  if (!json_is_integer(in) || !json_is_integer(out) || json_integer_value(in) < 1 || json_integer_value(out) < 1 ||
      json_integer_value(in) > 65536 || json_integer_value(out) > 65536) {
    rc = hx_err_set(err, HX_ECORRUPT, "%s: in_features and out_features must be integers in 1..65536", p);
    goto out;
  }
  if (bias && !json_is_boolean(bias)) {
    rc = hx_err_set(err, HX_ECORRUPT, "%s: \"bias\" must be true or false", p);
    goto out;
  }
  /* ST writes the class path; accept the bare class name too */
  const char *dot = act ? strrchr(act, '.') : NULL, *base = dot ? dot + 1 : act;
  if (!act || strcmp(base, "Tanh") == 0) {
    d->tanh = 1; /* ST's default activation */
  } else if (strcmp(base, "Identity") != 0) {
    rc = hx_err_set(err, HX_EUNSUPP, "%s: activation_function \"%s\" is not supported (Tanh or Identity)", p, act);
    goto out;
  }
  d->in = (int)json_integer_value(in);
  d->out = (int)json_integer_value(out);
  d->has_bias = bias ? json_is_true(bias) : 1;
out:
  json_decref(root);
  return rc;
}

/* Tensor `name` of shape [rows] (cols 0) or [rows, cols] into a new array. */
static int take(hx_safetensors *st, const char *name, int64_t rows, int64_t cols, float **dst, hx_err *err) {
  const char *p = hx_safetensors_path(st);
  const hx_st_tensor *t = hx_safetensors_find(st, name);
  if (!t) return hx_err_set(err, HX_ECORRUPT, "%s: missing tensor '%s'", p, name);
  if (cols ? (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols) : (t->ndim != 1 || t->shape[0] != rows))
    return hx_err_set(err, HX_ECORRUPT, "%s: tensor '%s' does not have the shape config.json implies ([%lld%s%lld])",
                      p, name, (long long)rows, cols ? ", " : "", (long long)cols);
  *dst = malloc((size_t)t->nelem * sizeof **dst);
  if (!*dst) return hx_err_set(err, HX_ENOMEM, "out of memory loading %s", p);
  return hx_safetensors_to_f32(t, *dst, err);
}

int hx__dense_load(const char *dir, const char *path, hx__dense *d, hx_err *err) {
  char sub[4096], p[4096];
  hx_safetensors *st = NULL;
  int rc;

  if ((rc = hx__embed_path(sub, sizeof sub, dir, path, err)) ||
      (rc = hx__embed_path(p, sizeof p, sub, "model.safetensors", err)))
    return rc;
  if (access(p, F_OK) != 0) {
    char bin[4096];
    if (!hx__embed_path(bin, sizeof bin, sub, "pytorch_model.bin", NULL) && access(bin, F_OK) == 0)
      return hx_err_set(err, HX_EUNSUPP, "%s: only model.safetensors weights are supported (convert the module)", bin);
  }
  if ((rc = hx_safetensors_open(p, &st, err))) return rc;
  rc = take(st, "linear.weight", d->out, d->in, &d->w, err);
  if (!rc && d->has_bias) rc = take(st, "linear.bias", d->out, 0, &d->b, err);
  hx_safetensors_close(st);
  return rc;
}

void hx__dense_release(hx__dense *d) {
  free(d->w);
  free(d->b);
  d->w = d->b = NULL;
}

int hx__dense_apply(const hx__dense *d, int n, const float *x, float *y) {
  if (n <= 0) return 0;
  /* y[n, out] = x[n, in] W^T: W is [out, in] as PyTorch stores it */
  if (hx__gemm_bt(n, d->out, d->in, x, d->in, d->w, d->in, 0.0f, y, d->out)) return HX_EINVAL;
  for (size_t r = 0; r < (size_t)n; r++) {
    float *yr = y + r * (size_t)d->out;
    for (int o = 0; o < d->out; o++) {
      float v = yr[o] + (d->b ? d->b[o] : 0.0f);
      yr[o] = d->tanh ? tanhf(v) : v;
    }
  }
  return 0;
}
