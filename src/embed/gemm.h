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

#include <stdint.h>

/* C[M,N] = A[M,K] * B[K,N] + beta * C, all row-major with leading dims. */
int hx__gemm(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
             float *C, int ldc);

/* Same with B given as Bt[N,K] (a PyTorch Linear weight as stored). */
int hx__gemm_bt(int M, int N, int K, const float *A, int lda, const float *Bt, int ldb, float beta,
                float *C, int ldc);

/* Threads for GEMMs issued from the calling thread from now on. */
void hx__gemm_threads(int n);

#endif
