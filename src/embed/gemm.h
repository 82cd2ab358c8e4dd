/*
 * gemm.h - the one matrix product the forward pass needs, behind a small
 * interface so the library underneath can be chosen by measurement.
 *
 * Backend: oneDNN's dnnl_sgemm (Debian libdnnl-dev), which dispatches to
 * AVX-512 kernels on this class of CPU; measured against OpenBLAS (pinned to
 * its AVX2 Haswell kernel here) in bench/embed and docs/embed.md.
 * Threads: the backend uses omp_get_max_threads() of the calling thread; the
 * caller sets it (hx__gemm_threads) so concurrent workers do not
 * oversubscribe the cores.
 */
#ifndef HX_EMBED_GEMM_H
#define HX_EMBED_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* C[M,N] = A[M,K] * B[K,N] + beta * C, all row-major with leading dims. */
int hx__gemm(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
             float *C, int ldc);

/* Same with B given as Bt[N,K] (a PyTorch Linear weight as stored). */
int hx__gemm_bt(int M, int N, int K, const float *A, int lda, const float *Bt, int ldb, float beta,
                float *C, int ldc);

/* Threads for GEMMs issued from the calling thread from now on. */
void hx__gemm_threads(int n);

/* ---- prepacked linear layers (oneDNN matmul primitive) ----
 * y[M, N] = act(x[M, K] W[K, N] + bias): the weights are converted once to
 * the layout and type the primitive prefers (bf16 blocks for HX_DT_BF16),
 * bias and GELU (erf) run inside the GEMM. One primitive per distinct M is
 * cached in the object (oneDNN's brgemm kernels need M at creation).
 * Thread-safe: concurrent runs share the packed weights and primitives; each
 * run brings its thread's own scratchpad (oneDNN's library-managed one is
 * shared by all primitives and may not be used by two threads at once). */
enum { HX_DT_F32 = 0, HX_DT_BF16 };

typedef struct hx__mm hx__mm;

/* 1 when the CPU and library run bf16 matmuls natively (avx512_bf16 / AMX). */
int hx__mm_bf16_supported(void);

/* W is [K, N] row-major f32 (copied/converted); bias may be NULL (copied).
 * src_dt is the type of x and W inside the GEMM, dst_dt the type of y. */
int hx__mm_new(int K, int N, const float *W, const float *bias, int gelu, int src_dt, int dst_dt,
               hx__mm **out, hx_err *err);
void hx__mm_free(hx__mm *m);
int hx__mm_run(hx__mm *m, int M, const void *x, void *y, hx_err *err);

/* Round-to-nearest-even f32 -> bf16 of n values. */
void hx__to_bf16(const float *src, uint16_t *dst, size_t n);

#endif
