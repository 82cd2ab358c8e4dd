/*
 * kernels.h - the element-wise and per-head math of the BERT forward pass,
 * kept apart from the model code so each can be tested against a scalar
 * reference. Hot loops are compiled for AVX-512, AVX2+FMA and plain x86-64
 * (GCC target_clones) and the best one is picked at load time.
 *
 * Accuracy: hx__kern_exp has a relative error below 2e-7 on [-87, 88];
 * hx__kern_gelu uses erf to 1.5e-7 absolute (Abramowitz-Stegun 7.1.26), so
 * GELU is exact erf-GELU to about 1e-7 * |x|.
 */
#ifndef HX_EMBED_KERNELS_H
#define HX_EMBED_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* y[i] = exp(x[i]) for n values (in place allowed). */
void hx__kern_exp(const float *x, float *y, size_t n);

/* x[i] = gelu(x[i] + bias[i]) for one row of n (bias may be NULL). */
void hx__kern_bias_gelu(float *x, const float *bias, size_t n);

/* x = LayerNorm(x + y + bias) * g + b over one row of n (y may be NULL). */
void hx__kern_add_layernorm(float *x, const float *y, const float *bias, const float *g,
                            const float *b, size_t n, float eps);

/* One attention head of one sequence of L tokens, head size d (<= 256).
 * q, k, v point at the head's first element of row 0, rows stride apart;
 * bq/bk/bv the head's bias slices. ctx rows (stride cstride) receive
 * softmax(q k^T * scale) v. scratch holds at least
 * hx__kern_attention_scratch(L, d) floats. */
void hx__kern_attention(const float *q, const float *k, const float *v, size_t stride,
                        const float *bq, const float *bk, const float *bv, int L, int d,
                        float scale, float *ctx, size_t cstride, float *scratch);

/* The same head with bf16 dot products (vdpbf16ps): q, k, v and the
 * probabilities rounded to bf16, scores / softmax / sums in f32; ctx rows
 * are written as bf16. Only where hx__kern_attention_bf16_ok(d) (CPU has
 * avx512_bf16, d a multiple of 16); same scratch as above. */
int hx__kern_attention_bf16_ok(int d);
void hx__kern_attention_bf16(const float *q, const float *k, const float *v, size_t stride,
                            const float *bq, const float *bk, const float *bv, int L, int d,
                            float scale, uint16_t *ctx, size_t cstride, float *scratch);

/* Scratch floats hx__kern_attention needs for L tokens, head size d. */
static inline size_t hx__kern_attention_scratch(int L, int d) {
  size_t Lp = (size_t)(L + 32);
  return Lp * (2 * (size_t)d + 4) + (size_t)L + 64;
}

#endif
