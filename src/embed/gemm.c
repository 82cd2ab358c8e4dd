/* gemm.c - dnnl_sgemm (row-major) behind hx__gemm; see gemm.h for why. */
#include "embed/gemm.h"

#include <immintrin.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- prepacked linear layers ---- */

#define HX_MM_CACHE 64

typedef struct mm_entry {
  int M;
  dnnl_primitive_t p;    /* owned */
  dnnl_memory_desc_t sp; /* its scratchpad (user-managed, see prim_for) */
} mm_entry;

struct hx__mm {
  int K, N, gelu, src_dt, dst_dt;
  dnnl_memory_desc_t wmd;     /* packed weights layout */
  void *w;                    /* owned, packed weights */
  float *bias;                /* owned, may be NULL */
  pthread_mutex_t mu;         /* guards cache */
  mm_entry cache[HX_MM_CACHE];
  int ncache, next;           /* next: round-robin victim */
};

static dnnl_engine_t g_engine;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void engine_init(void) {
  if (dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success) g_engine = NULL;
}

static dnnl_engine_t engine(void) {
  pthread_once(&g_once, engine_init);
  return g_engine;
}

int hx__mm_bf16_supported(void) {
  /* oneDNN picks bf16 brgemm only on avx512_core_bf16 or newer */
  return engine() && __builtin_cpu_supports("avx512bf16") ? 1 : 0;
}

static dnnl_data_type_t dt_of(int dt) { return dt == HX_DT_BF16 ? dnnl_bf16 : dnnl_f32; }

/* A matmul primitive descriptor for M rows; weights in `wmd` (NULL = any). */
static int make_pd(hx__mm *m, int M, const dnnl_memory_desc_t *wmd, dnnl_primitive_desc_t *pd) {
  dnnl_memory_desc_t sd, wd, bd, dd;
  dnnl_dims_t sdims = {M, m->K}, wdims = {m->K, m->N}, bdims = {1, m->N}, ddims = {M, m->N};
  dnnl_matmul_desc_t md;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t po = NULL;
  int rc = HX_EUNSUPP;

  if (dnnl_memory_desc_init_by_tag(&sd, 2, sdims, dt_of(m->src_dt), dnnl_ab) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&bd, 2, bdims, dnnl_f32, dnnl_ab) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&dd, 2, ddims, dt_of(m->dst_dt), dnnl_ab) != dnnl_success)
    return rc;
  if (wmd) wd = *wmd;
  else if (dnnl_memory_desc_init_by_tag(&wd, 2, wdims, dt_of(m->src_dt), dnnl_format_tag_any) != dnnl_success)
    return rc;
  if (dnnl_matmul_desc_init(&md, &sd, &wd, m->bias ? &bd : NULL, &dd) != dnnl_success) return rc;
  if (dnnl_primitive_attr_create(&attr) != dnnl_success) return rc;
  /* The library-managed scratchpad is shared by all primitives and ties a
   * primitive to the thread that created it; a user scratchpad per run lets
   * any number of threads execute the same cached primitive at once. */
  if (dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success) goto out;
  if (m->gelu) {
    if (dnnl_post_ops_create(&po) != dnnl_success ||
        dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0.0f, 0.0f) != dnnl_success ||
        dnnl_primitive_attr_set_post_ops(attr, po) != dnnl_success)
      goto out;
  }
  if (dnnl_primitive_desc_create(pd, &md, attr, engine(), NULL) != dnnl_success) goto out;
  rc = 0;
out:
  if (po) dnnl_post_ops_destroy(po);
  dnnl_primitive_attr_destroy(attr);
  return rc;
}

int hx__mm_new(int K, int N, const float *W, const float *bias, int gelu, int src_dt, int dst_dt,
               hx__mm **out, hx_err *err) {
  hx__mm *m = NULL;
  dnnl_primitive_desc_t pd = NULL, rpd = NULL;
  dnnl_primitive_t reorder = NULL;
  dnnl_memory_t from = NULL, to = NULL;
  dnnl_stream_t st = NULL;
  dnnl_memory_desc_t plain;
  dnnl_dims_t wdims = {K, N};
  int rc = 0;

  *out = NULL;
  if (!engine()) return hx_err_set(err, HX_EUNSUPP, "oneDNN has no CPU engine");
  m = calloc(1, sizeof *m);
  if (!m) return hx_err_set(err, HX_ENOMEM, "out of memory");
  pthread_mutex_init(&m->mu, NULL);
  m->K = K;
  m->N = N;
  m->gelu = gelu;
  m->src_dt = src_dt;
  m->dst_dt = dst_dt;
  if (bias) {
    if (!(m->bias = malloc((size_t)N * sizeof *m->bias))) {
      rc = hx_err_set(err, HX_ENOMEM, "out of memory");
      goto out;
    }
    memcpy(m->bias, bias, (size_t)N * sizeof *m->bias);
  }
  /* let the primitive for a typical M choose the weights layout */
  if (make_pd(m, 256, NULL, &pd)) {
    rc = hx_err_set(err, HX_EUNSUPP, "oneDNN matmul %dx%d (%s) is not available", K, N,
                    src_dt == HX_DT_BF16 ? "bf16" : "f32");
    goto out;
  }
  m->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  m->w = aligned_alloc(64, (dnnl_memory_desc_get_size(&m->wmd) + 63) / 64 * 64);
  if (!m->w) {
    rc = hx_err_set(err, HX_ENOMEM, "out of memory");
    goto out;
  }
  if (dnnl_memory_desc_init_by_tag(&plain, 2, wdims, dnnl_f32, dnnl_ab) != dnnl_success ||
      dnnl_memory_create(&from, &plain, engine(), (void *)W) != dnnl_success ||
      dnnl_memory_create(&to, &m->wmd, engine(), m->w) != dnnl_success ||
      dnnl_reorder_primitive_desc_create(&rpd, &plain, engine(), &m->wmd, engine(), NULL) != dnnl_success ||
      dnnl_primitive_create(&reorder, rpd) != dnnl_success ||
      dnnl_stream_create(&st, engine(), dnnl_stream_default_flags) != dnnl_success) {
    rc = hx_err_set(err, HX_EUNSUPP, "oneDNN cannot pack %dx%d weights", K, N);
    goto out;
  }
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
  if (dnnl_primitive_execute(reorder, st, 2, args) != dnnl_success || dnnl_stream_wait(st) != dnnl_success) {
    rc = hx_err_set(err, HX_EUNSUPP, "oneDNN weight packing failed");
    goto out;
  }
  *out = m;
  m = NULL;
out:
  if (st) dnnl_stream_destroy(st);
  if (reorder) dnnl_primitive_destroy(reorder);
  if (rpd) dnnl_primitive_desc_destroy(rpd);
  if (from) dnnl_memory_destroy(from);
  if (to) dnnl_memory_destroy(to);
  if (pd) dnnl_primitive_desc_destroy(pd);
  hx__mm_free(m);
  return rc;
}

void hx__mm_free(hx__mm *m) {
  if (!m) return;
  for (int i = 0; i < m->ncache; i++) dnnl_primitive_destroy(m->cache[i].p);
  pthread_mutex_destroy(&m->mu);
  free(m->w);
  free(m->bias);
  free(m);
}

/* This thread's scratchpad for matmul runs, grown on demand and kept for
 * the thread's life (freed by its destructor when the thread exits). */
static pthread_key_t g_scratch_key;
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;

typedef struct scratch {
  size_t n;
  void *p;
} scratch;

static void scratch_free(void *v) {
  scratch *s = v;
  if (s) free(s->p);
  free(s);
}

static void scratch_key_init(void) { pthread_key_create(&g_scratch_key, scratch_free); }

static void *scratch_get(size_t n) {
  pthread_once(&g_scratch_once, scratch_key_init);
  scratch *s = pthread_getspecific(g_scratch_key);
  if (!s) {
    if (!(s = calloc(1, sizeof *s))) return NULL;
    pthread_setspecific(g_scratch_key, s);
  }
  if (s->n < n) {
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!p) return NULL;
    free(s->p);
    s->p = p;
    s->n = n;
  }
  return s->p;
}

/* The primitive for M rows, created on first use and cached; when the
 * cache is full it is made for this run only (*once = 1, caller destroys).
 * Cached primitives live until hx__mm_free, so a run never sees one vanish. */
static dnnl_primitive_t prim_for(hx__mm *m, int M, dnnl_memory_desc_t *sp, int *once) {
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t p = NULL;

  *once = 0;
  pthread_mutex_lock(&m->mu);
  for (int i = 0; i < m->ncache; i++)
    if (m->cache[i].M == M) {
      p = m->cache[i].p;
      *sp = m->cache[i].sp;
      goto out;
    }
  if (make_pd(m, M, &m->wmd, &pd) == 0) {
    const dnnl_memory_desc_t *q = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (q) *sp = *q;
    else dnnl_memory_desc_init_by_tag(sp, 0, NULL, dnnl_data_type_undef, dnnl_format_tag_undef);
    if (dnnl_primitive_create(&p, pd) != dnnl_success) p = NULL;
  }
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (p && m->ncache < HX_MM_CACHE) {
    m->cache[m->ncache].M = M;
    m->cache[m->ncache].sp = *sp;
    m->cache[m->ncache++].p = p;
  } else if (p) {
    *once = 1;
  }
out:
  pthread_mutex_unlock(&m->mu);
  return p;
}

int hx__mm_run(hx__mm *m, int M, const void *x, void *y, hx_err *err) {
  dnnl_memory_desc_t sd, bd, dd;
  dnnl_dims_t sdims = {M, m->K}, bdims = {1, m->N}, ddims = {M, m->N};
  dnnl_memory_desc_t spd;
  dnnl_memory_t ms = NULL, mw = NULL, mb = NULL, md = NULL, msp = NULL;
  dnnl_stream_t st = NULL;
  dnnl_primitive_t p;
  int rc = 0, once = 0, nargs = 0;

  p = prim_for(m, M, &spd, &once);
  if (!p) return hx_err_set(err, HX_EUNSUPP, "oneDNN matmul for %d rows is not available", M);
  size_t spn = dnnl_memory_desc_get_size(&spd);
  void *spbuf = spn ? scratch_get(spn) : NULL;
  if (spn && !spbuf) {
    rc = hx_err_set(err, HX_ENOMEM, "out of memory for a %zu-byte matmul scratchpad", spn);
    goto out;
  }
  if (dnnl_memory_desc_init_by_tag(&sd, 2, sdims, dt_of(m->src_dt), dnnl_ab) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&bd, 2, bdims, dnnl_f32, dnnl_ab) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&dd, 2, ddims, dt_of(m->dst_dt), dnnl_ab) != dnnl_success ||
      dnnl_memory_create(&ms, &sd, engine(), (void *)x) != dnnl_success ||
      dnnl_memory_create(&mw, &m->wmd, engine(), m->w) != dnnl_success ||
      dnnl_memory_create(&md, &dd, engine(), y) != dnnl_success ||
      (m->bias && dnnl_memory_create(&mb, &bd, engine(), m->bias) != dnnl_success) ||
      (spn && dnnl_memory_create(&msp, &spd, engine(), spbuf) != dnnl_success) ||
      dnnl_stream_create(&st, engine(), dnnl_stream_default_flags) != dnnl_success) {
    rc = hx_err_set(err, HX_ENOMEM, "oneDNN memory objects");
    goto out;
  }
  dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md}};
  nargs = 3;
  if (mb) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, mb};
  if (msp) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, msp};
  if (dnnl_primitive_execute(p, st, nargs, args) != dnnl_success ||
      dnnl_stream_wait(st) != dnnl_success)
    rc = hx_err_set(err, HX_EINVAL, "oneDNN matmul failed (%d rows)", M);
out:
  if (st) dnnl_stream_destroy(st);
  if (ms) dnnl_memory_destroy(ms);
  if (mw) dnnl_memory_destroy(mw);
  if (mb) dnnl_memory_destroy(mb);
  if (md) dnnl_memory_destroy(md);
  if (msp) dnnl_memory_destroy(msp);
  if (once) dnnl_primitive_destroy(p);
  return rc;
}

__attribute__((target_clones("avx512f", "avx2", "default")))
static void to_bf16_generic(const float *src, uint16_t *dst, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &src[i], 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    dst[i] = (uint16_t)(u >> 16);
  }
}

/* vcvtneps2bf16: the same round-to-nearest-even, 16 values per instruction. */
__attribute__((target("avx512f,avx512bf16")))
static void to_bf16_native(const float *src, uint16_t *dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256bh v = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i));
    _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)v);
  }
  if (i < n) to_bf16_generic(src + i, dst + i, n - i);
}

void hx__to_bf16(const float *src, uint16_t *dst, size_t n) {
  if (__builtin_cpu_supports("avx512bf16")) to_bf16_native(src, dst, n);
  else to_bf16_generic(src, dst, n);
}
