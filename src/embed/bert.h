/*
 * bert.h - a BERT encoder (BertModel) loaded from config.json +
 * model.safetensors, and its forward pass with pooling.
 *
 * Contract:
 *   - config.json must describe a BertModel with hidden_act "gelu" (exact,
 *     erf-based) and absolute position embeddings; hidden_size divisible by
 *     num_attention_heads.
 *   - Tensors are found with or without the "bert." prefix; LayerNorm
 *     parameters as weight/bias or gamma/beta. F32, F16 and BF16 tensors are
 *     converted to F32 at load; a missing tensor or a wrong shape is
 *     HX_ECORRUPT naming model.safetensors and the tensor.
 *   - hx_bert_forward takes sequences packed back to back (no padding): the
 *     dense layers run on all real tokens at once, attention runs per
 *     sequence and head, so no padding mask is needed and no work is spent
 *     on pad tokens. token_type_ids are all 0, attention covers every token.
 *   - Thread-safe: the model is read-only after load; each call uses its own
 *     workspace and up to nthreads OpenMP threads (GEMM included).
 */
#ifndef HX_EMBED_BERT_H
#define HX_EMBED_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct hx_bert_config {
  int hidden, layers, heads, inter, vocab, max_pos, type_vocab;
  float eps;
} hx_bert_config;

/* sentence-transformers pooling modes: mean, [CLS], max; sum / sqrt(length)
 * (mean_sqrt_len_tokens); the last token ([SEP] for BERT: lasttoken). */
enum { HX_POOL_MEAN = 0, HX_POOL_CLS, HX_POOL_MAX, HX_POOL_MEAN_SQRT, HX_POOL_LAST };

/* Precision of the dense layers.
 *   F32: dnnl_sgemm on the f32 weights (the default, reference accuracy);
 *   F32_PACKED: oneDNN matmul primitives with prepacked f32 weights and
 *     bias + GELU fused (same math, different kernels);
 *   BF16: weights and GEMM inputs rounded to bfloat16, f32 accumulation and
 *     f32 everywhere else (LayerNorm, softmax, residuals), where the CPU has
 *     avx512_bf16. Reduced precision: cosine to F32 stays >= 0.999. */
enum { HX_PREC_F32 = 0, HX_PREC_BF16, HX_PREC_F32_PACKED };

typedef struct hx_bert hx_bert;

/* Parse config.json at path into c. */
int hx_bert_config_load(const char *path, hx_bert_config *c, hx_err *err);

/* dir holds config.json and model.safetensors. *out owned by the caller. */
int hx_bert_load(const char *dir, hx_bert **out, hx_err *err);
void hx_bert_free(hx_bert *b);
const hx_bert_config *hx_bert_config_of(const hx_bert *b);

/* Select the precision used by later forward calls (not concurrently with
 * them). HX_EUNSUPP when the CPU or library lacks it. */
int hx_bert_set_precision(hx_bert *b, int prec, hx_err *err);

/* ids: nseq sequences back to back, sequence s has lens[s] tokens
 * (1..max_pos); out[nseq * hidden] receives the pooled (not normalised)
 * vectors. */
int hx_bert_forward(hx_bert *b, const int32_t *ids, const int *lens, int nseq, int pooling,
                    int nthreads, float *out, hx_err *err);

/* Multiply-adds * 2 of one forward over these lengths (for benchmarks). */
double hx_bert_flops(const hx_bert_config *c, const int *lens, int nseq);

#endif
