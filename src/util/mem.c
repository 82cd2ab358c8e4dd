/* mem.c - arena cap, trimming on growth, and the heap's figures (see mem.h). */
#include "util/mem.h"
#include "util/log.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void hx_mem_setup(void) {
  const char *s = getenv("MALLOC_ARENA_MAX");
  if (!s || !*s) mallopt(M_ARENA_MAX, HX_MEM_ARENAS);
}

long hx_mem_rss(void) {
  long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
  }
  return rss * sysconf(_SC_PAGESIZE);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER, heap_mu = PTHREAD_MUTEX_INITIALIZER;
static long trimmed_at;   /* VmRSS after the last trim (or the lowest since) */

size_t hx_mem_trim(void) {
  long rss = hx_mem_rss(), grown = HX_MEM_TRIM_GROWTH;
  size_t gave = 0;
  pthread_mutex_lock(&mu);
  if (trimmed_at / HX_MEM_TRIM_GROWTH_DIV > grown) grown = trimmed_at / HX_MEM_TRIM_GROWTH_DIV;
  if (rss > 0 && rss < trimmed_at) trimmed_at = rss;
  if (rss > 0 && (trimmed_at == 0 || rss >= trimmed_at + grown)) {
    malloc_trim(0);
    long after = hx_mem_rss();
    trimmed_at = after > 0 ? after : rss;
    gave = rss > trimmed_at ? (size_t)(rss - trimmed_at) : 0;
  }
  pthread_mutex_unlock(&mu);
  return gave;
}

void hx_mem_heap(size_t *in_use, size_t *held_free) {
  static struct mallinfo2 mi;
  static double at = -1e9;
  double now = hx_mono();
  pthread_mutex_lock(&heap_mu);   /* not mu: a scrape does not wait for a trim */
  if (now - at >= HX_MEM_HEAP_EVERY_SEC) {
    mi = mallinfo2();
    at = now;
  }
  *in_use = mi.uordblks + mi.hblkhd;
  *held_free = mi.fordblks;
  pthread_mutex_unlock(&heap_mu);
}
