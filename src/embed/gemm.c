/* gemm.c - dnnl_sgemm (row-major) behind hx__gemm; see gemm.h for why. */
#include "embed/gemm.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include "util/err.h"

int hx__gemm(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
             float *C, int ldc) {
  return dnnl_sgemm('N', 'N', M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc) == dnnl_success
             ? 0 : HX_EINVAL;
}

int hx__gemm_bt(int M, int N, int K, const float *A, int lda, const float *Bt, int ldb, float beta,
                float *C, int ldc) {
  return dnnl_sgemm('N', 'T', M, N, K, 1.0f, A, lda, Bt, ldb, beta, C, ldc) == dnnl_success
             ? 0 : HX_EINVAL;
}

void hx__gemm_threads(int n) { omp_set_num_threads(n > 0 ? n : 1); }
