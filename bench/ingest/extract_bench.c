/*
 * extract_bench.c - times hx_extract_file and hx_chunk_doc on one file, RUNS
 * times, and prints one JSON line with the medians. Driven by run.sh.
 *   extract_bench FILE RUNS
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "chunk/chunk.h"
#include "extract/extract.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 3) return fprintf(stderr, "usage: extract_bench FILE RUNS\n"), 2;
  int runs = atoi(argv[2]);
  if (runs < 1 || runs > 100) runs = 5;
  double te[100], tc[100];
  size_t blocks = 0, pages = 0, chunks = 0, text = 0;
  const char *type = "?";
  struct stat st;
  if (stat(argv[1], &st) != 0) return perror(argv[1]), 1;
  hx_extract_limits lim;
  hx_extract_limits_default(&lim);
  for (int r = 0; r < runs; r++) {
    hx_doc *d = NULL;
    hx_err e = {0};
    double t0 = now();
    if (hx_extract_file(argv[1], NULL, &lim, &d, &e) != 0) return fprintf(stderr, "%s: %s\n", argv[1], e.msg), 1;
    double t1 = now();
    hx_chunk_opts o = {256, HX_CHUNK_OVERLAP_DEFAULT, NULL, NULL, NULL};
    hx_chunk_list l;
    if (hx_chunk_doc(d, &o, &l, &e) != 0) return fprintf(stderr, "chunk: %s\n", e.msg), 1;
    double t2 = now();
    te[r] = t1 - t0, tc[r] = t2 - t1;
    type = d->type, blocks = d->nblocks, chunks = l.n, text = d->text_len;
    pages = d->nblocks && d->blocks[d->nblocks - 1].page ? d->blocks[d->nblocks - 1].page : 0;
    hx_chunk_list_release(&l);
    hx_doc_free(d);
  }
  qsort(te, (size_t)runs, sizeof te[0], cmp);
  qsort(tc, (size_t)runs, sizeof tc[0], cmp);
  printf("{\"type\":\"%s\",\"bytes\":%lld,\"text_bytes\":%zu,\"blocks\":%zu,\"pages\":%zu,\"chunks\":%zu,"
         "\"extract_s\":%.6f,\"chunk_s\":%.6f,\"runs\":%d}\n",
         type, (long long)st.st_size, text, blocks, pages, chunks, te[runs / 2], tc[runs / 2], runs);
  return 0;
}
