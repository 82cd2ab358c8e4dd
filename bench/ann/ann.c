/*
 * ann.c - the engine's side of the ANN benchmark (bench/ann/run.sh drives it).
 *
 * Loads the data set written by gen.py, then measures, single-threaded unless
 * noted: build time (upserts of 1000 points, log on, fsync off: the index cost),
 * memory per point (RSS delta), recall@10 and QPS for each ef with float and
 * int8-quantized vectors, 1% filtered search latency (p50/p99) and recall,
 * restart time (snapshot + open, graph loaded), and durable upserts/s with
 * fsync on from concurrent writers (group commit). One JSON object per line.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vec/vec.h"

static double clk(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
/* Wall time for latencies and durability; CPU time (thread for searches,
 * process for builds, same as the peers) for throughput, because the machine
 * is shared and wall-clock QPS mostly measures the neighbours. */
static double now(void) { return clk(CLOCK_MONOTONIC); }
static double tcpu(void) { return clk(CLOCK_THREAD_CPUTIME_ID); }
static double pcpu(void) { return clk(CLOCK_PROCESS_CPUTIME_ID); }

static long rss(void) {
  long pages = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f && fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
  if (f) fclose(f);
  return res * sysconf(_SC_PAGESIZE);
}

static float *load(const char *dir, const char *name, size_t *n, size_t rowbytes) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "rb");
  if (!f) {
    perror(p);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  float *b = malloc((size_t)sz);
  if (!b || fread(b, 1, (size_t)sz, f) != (size_t)sz) exit(1);
  fclose(f);
  *n = (size_t)sz / rowbytes;
  return b;
}

static void die(const char *what, const hx_err *e) {
  fprintf(stderr, "%s: %s\n", what, e->msg);
  exit(1);
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

enum { DIM = 384, K = 10 };
static hx_vec *wdb;
static const float *wbase;
static size_t wper, wbatch;

static void *durable_writer(void *arg) {
  size_t t = (size_t)(uintptr_t)arg;
  hx_err e = {0};
  hx_vec_point *p = calloc(wbatch, sizeof *p);
  hx_vec_dense *d = calloc(wbatch, sizeof *d);
  for (size_t done = 0; done < wper; done += wbatch) {
    for (size_t i = 0; i < wbatch; i++) {
      size_t row = (t * wper + done + i) % 100000;
      d[i] = (hx_vec_dense){.v = wbase + row * DIM, .dim = DIM};
      p[i] = (hx_vec_point){.id = hx_vec_id_num(t * wper + done + i), .dense = &d[i], .ndense = 1};
    }
    if (hx_vec_upsert(wdb, "d", "org", p, wbatch, &e)) die("durable upsert", &e);
  }
  free(p);
  free(d);
  return NULL;
}

static double durable(const char *root, const float *base, int threads, size_t batch, size_t total) {
  char dir[1024];
  hx_err e = {0};
  snprintf(dir, sizeof dir, "%s/durable-%d-%zu", root, threads, batch);
  if (system("true")) {
  }
  if (hx_vec_open(dir, NULL, &wdb, &e)) die("open", &e);
  hx_vec_dense_cfg dc = {.name = "", .dim = DIM, .distance = HX_VEC_COSINE};
  hx_vec_collection_create(wdb, "d", &(hx_vec_collection_cfg){.dense = &dc, .ndense = 1}, &e);
  wbase = base;
  wbatch = batch;
  wper = total / (size_t)threads;
  pthread_t th[64];
  double t = now();
  for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, durable_writer, (void *)(uintptr_t)i);
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  double dt = now() - t;
  hx_vec_close(wdb);
  return (double)(wper * (size_t)threads) / dt;
}

/* 1% filtered search (bucket = id % 100, an indexed integer): latency p50/p99
 * in wall time and in thread CPU time (on the shared machine the wall p99 is
 * mostly time spent waiting for a core), and recall against the exact answer
 * among the bucket, computed here in double. */
static void filtered(hx_vec *db, const char *engine, hx_vec_filter **flt, const float *base, size_t n,
                     const float *query, size_t nq) {
  hx_err e = {0};
  hx_vec_hit hits[K];
  size_t nh, found = 0;
  double *lat = malloc(nq * sizeof *lat), *cpu = malloc(nq * sizeof *cpu);
  for (size_t i = 0; i < nq; i++) {
    int b = (int)(i % 100);
    const float *qv = query + i * DIM;
    double t0 = now(), c0 = tcpu();
    if (hx_vec_search(db, "c", "org", &(hx_vec_query){.v = qv, .dim = DIM, .limit = K, .ef = 64, .filter = flt[b]}, hits, &nh, &e))
      die("filtered search", &e);
    lat[i] = now() - t0;
    cpu[i] = tcpu() - c0;
    double best[K];
    size_t bid[K], m = 0;
    for (size_t r = (size_t)b; r < n; r += 100) {
      double s = 0;
      for (int j = 0; j < DIM; j++) s += (double)base[r * DIM + j] * qv[j];
      if (m == K && s <= best[K - 1]) continue;
      size_t j = m < K ? m++ : K - 1;
      while (j > 0 && best[j - 1] < s) {
        best[j] = best[j - 1];
        bid[j] = bid[j - 1];
        j--;
      }
      best[j] = s;
      bid[j] = r;
    }
    for (size_t h = 0; h < nh; h++)
      for (size_t g = 0; g < m; g++) found += bid[g] == hits[h].id.num;
  }
  qsort(lat, nq, sizeof *lat, cmpd);
  qsort(cpu, nq, sizeof *cpu, cmpd);
  printf("{\"engine\":\"%s\",\"what\":\"filtered\",\"selectivity\":0.01,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
         "\"cpu_p50_ms\":%.3f,\"cpu_p99_ms\":%.3f,\"recall\":%.4f}\n",
         engine, lat[nq / 2] * 1e3, lat[nq * 99 / 100] * 1e3, cpu[nq / 2] * 1e3, cpu[nq * 99 / 100] * 1e3,
         (double)found / (double)(nq * K));
  fflush(stdout);
  free(lat);
  free(cpu);
}

/* Build: upserts of 1000 points (log on, fsync off: the index cost) until the
 * graph holds them all; CPU time, wall time and RSS delta per point. */
static void build(hx_vec *db, const float *base, size_t n) {
  hx_err e = {0};
  long r0 = rss();
  double t = now(), tc = pcpu();
  enum { B = 1000 };
  hx_vec_point *p = calloc(B, sizeof *p);
  hx_vec_dense *d = calloc(B, sizeof *d);
  for (size_t s = 0; s < n; s += B) {
    size_t m = n - s < B ? n - s : B;
    for (size_t i = 0; i < m; i++) {
      d[i] = (hx_vec_dense){.v = base + (s + i) * DIM, .dim = DIM};
      p[i] = (hx_vec_point){.id = hx_vec_id_num(s + i), .dense = &d[i], .ndense = 1,
                            .payload = json_pack("{s:i}", "bucket", (int)((s + i) % 100))};
    }
    if (hx_vec_upsert(db, "c", "org", p, m, &e)) die("upsert", &e);
    for (size_t i = 0; i < m; i++) json_decref(p[i].payload);
  }
  if (hx_vec_wait_indexed(db, &e)) die("index", &e);
  double build = now() - t, build_cpu = pcpu() - tc;
  printf("{\"engine\":\"heimdex\",\"what\":\"build\",\"seconds\":%.3f,\"wall_seconds\":%.3f,\"bytes_per_point\":%.1f}\n",
         build_cpu, build, (double)(rss() - r0) / (double)n);
  fflush(stdout);

  free(p);
  free(d);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s DATA_DIR WORK_DIR [KEEP_DIR]\n", argv[0]);
    return 2;
  }
  /* KEEP_DIR: the indexed collection lives there and is reused when it holds
   * every point already (iterating at 1M without a 10-minute build) */
  const char *data = argv[1], *work = argv[2], *keep = argc > 3 ? argv[3] : NULL;
  size_t n, nq, ngt;
  float *base = load(data, "base.f32", &n, DIM * 4), *query = load(data, "query.f32", &nq, DIM * 4);
  int *gt = (int *)load(data, "gt.i32", &ngt, 100 * 4);
  hx_err e = {0};
  hx_vec *db;
  char dir[1024];
  if (keep) mkdir(keep, 0755); /* may exist */
  snprintf(dir, sizeof dir, "%s/ann", keep ? keep : work);
  if (hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1, .wal_max_bytes = 1ull << 40}, &db, &e)) die("open", &e);
  size_t have = 0;
  if (keep && hx_vec_count(db, "c", "org", NULL, 1, &have, &e) == 0 && have == n) {
    fprintf(stderr, "reusing the %zu points indexed in %s\n", have, dir);
    hx_vec_set_quant(db, "c", "", HX_VEC_QUANT_NONE, &e);
  } else {
    if (keep) {
      hx_vec_close(db);
      char cmd[1100];
      snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
      if (system(cmd)) die("rm", &e);
      if (hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1, .wal_max_bytes = 1ull << 40}, &db, &e)) die("open", &e);
    }
    hx_vec_dense_cfg dc = {.name = "", .dim = DIM, .distance = HX_VEC_COSINE, .m = 16, .ef_construct = 100};
    if (hx_vec_collection_create(db, "c", &(hx_vec_collection_cfg){.dense = &dc, .ndense = 1, .index_threshold = 1000}, &e))
      die("create", &e);
    if (hx_vec_index_create(db, "c", "bucket", HX_VEC_INDEX_INTEGER, &e)) die("index", &e);
    build(db, base, n);
  }

  /* ---- float and int8 search: interleaved per ef (float ignores the codes),
   * three rounds each, median QPS, so both see the same load on the shared
   * machine ---- */
  const int efs[] = {16, 32, 64, 128, 256};
  hx_vec_hit hits[K];
  size_t nh;
  if (hx_vec_set_quant(db, "c", "", HX_VEC_QUANT_INT8, &e)) die("quant", &e);
  for (int ei = 0; ei < 5; ei++) {
    double qps[2][3], wall[2][3], recall[2] = {0, 0};
    for (int round = 0; round < 3; round++)
      for (int quant = 0; quant < 2; quant++) {
        hx_vec_query q = {.dim = DIM, .limit = K, .ef = (uint32_t)efs[ei], .oversampling = 2, .ignore_quant = !quant};
        for (size_t i = 0; i < 50; i++) { /* warm-up */
          q.v = query + i * DIM;
          hx_vec_search(db, "c", "org", &q, hits, &nh, &e);
        }
        size_t found = 0;
        double t = now(), tc = tcpu();
        for (size_t i = 0; i < nq; i++) {
          q.v = query + i * DIM;
          if (hx_vec_search(db, "c", "org", &q, hits, &nh, &e)) die("search", &e);
          for (size_t h = 0; h < nh; h++)
            for (int g = 0; g < K; g++) found += (uint64_t)gt[i * 100 + g] == hits[h].id.num;
        }
        wall[quant][round] = (double)nq / (now() - t);
        qps[quant][round] = (double)nq / (tcpu() - tc);
        recall[quant] = (double)found / (double)(nq * K);
      }
    for (int quant = 0; quant < 2; quant++) {
      qsort(qps[quant], 3, sizeof(double), cmpd);
      qsort(wall[quant], 3, sizeof(double), cmpd);
      printf("{\"engine\":\"%s\",\"what\":\"search\",\"ef\":%d,\"recall\":%.4f,\"qps\":%.1f,\"qps_wall\":%.1f}\n",
             quant ? "heimdex-int8" : "heimdex", efs[ei], recall[quant], qps[quant][1], wall[quant][1]);
    }
    fflush(stdout);
  }

  /* ---- 1% filtered search: on int8 codes (quantization still on), then on floats ---- */
  hx_vec_filter *flt[100];
  for (int b = 0; b < 100; b++) {
    json_t *j = json_pack("{s:[{s:s,s:{s:i}}]}", "must", "key", "bucket", "match", "value", b);
    if (hx_vec_filter_parse(j, &flt[b], &e)) die("filter", &e);
    json_decref(j);
  }
  filtered(db, "heimdex-int8", flt, base, n, query, nq);
  hx_vec_set_quant(db, "c", "", HX_VEC_QUANT_NONE, &e);
  filtered(db, "heimdex", flt, base, n, query, nq);
  for (int b = 0; b < 100; b++) hx_vec_filter_free(flt[b]);

  /* ---- restart: snapshot on close, then open loads the graph ---- */
  double t = now();
  hx_vec_close(db);
  double snap = now() - t;
  t = now();
  if (hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1}, &db, &e)) die("reopen", &e);
  double open = now() - t;
  size_t found = 0;
  for (size_t i = 0; i < 100; i++) {
    hx_vec_search(db, "c", "org", &(hx_vec_query){.v = query + i * DIM, .dim = DIM, .limit = K, .ef = 64}, hits, &nh, &e);
    for (size_t h = 0; h < nh; h++)
      for (int g = 0; g < K; g++) found += (uint64_t)gt[i * 100 + g] == hits[h].id.num;
  }
  printf("{\"engine\":\"heimdex\",\"what\":\"restart\",\"close_seconds\":%.3f,\"open_seconds\":%.3f,\"recall_after\":%.4f}\n",
         snap, open, (double)found / (100.0 * K));
  fflush(stdout);
  hx_vec_close(db);

  /* ---- durable upserts (fsync on, group commit) ---- */
  double ups1 = durable(work, base, 8, 100, 40000);
  double ups2 = durable(work, base, 16, 1, 8000);
  printf("{\"engine\":\"heimdex\",\"what\":\"durable\",\"threads_batch100_points_per_s\":%.0f,\"threads16_single_points_per_s\":%.0f}\n",
         ups1, ups2);
  free(base);
  free(query);
  free(gt);
  return 0;
}
