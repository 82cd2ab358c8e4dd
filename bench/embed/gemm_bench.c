/*
 * gemm_bench.c - GFLOP/s of the candidate GEMM libraries on the shapes of the
 * MiniLM forward pass (M = tokens in a batch), 'N','N' and 'N','T' layouts.
 * The measurement behind the choice in src/embed/gemm.h.
 * usage: hx_bench_gemm THREADS
 */
#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  int T = argc > 1 ? atoi(argv[1]) : 2;
  static const int shapes[][3] = {{4096, 1152, 384}, {4096, 384, 384}, {4096, 1536, 384},
                                  {4096, 384, 1536}, {2048, 1536, 384}, {16, 1536, 384}};
  omp_set_num_threads(T);
  openblas_set_num_threads(T);
  printf("%-18s %10s %10s %12s\n", "M x N x K", "dnnl NN", "dnnl NT", "openblas NN");
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N), *C = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++) A[i] = (float)(i % 7) * 0.1f;
    for (int i = 0; i < K * N; i++) B[i] = (float)(i % 5) * 0.1f;
    double g[3];
    for (int v = 0; v < 3; v++) {
      double best = 1e9;
      int reps = M < 100 ? 2000 : 20;
      for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (v == 0) dnnl_sgemm('N', 'N', M, N, K, 1, A, K, B, N, 0, C, N);
        else if (v == 1) dnnl_sgemm('N', 'T', M, N, K, 1, A, K, B, K, 0, C, N);
        else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, A, K, B, N, 0, C, N);
        double t = now() - t0;
        best = t < best ? t : best;
      }
      g[v] = 2.0 * M * N * K / best / 1e9;
    }
    printf("%5d x %4d x %4d %10.1f %10.1f %12.1f\n", M, N, K, g[0], g[1], g[2]);
    free(A);
    free(B);
    free(C);
  }
  return 0;
}
