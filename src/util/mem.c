/* mem.c - arena cap and periodic trim of glibc's heap (see mem.h). */
#include "util/mem.h"

#include <malloc.h>
#include <stdlib.h>

void hx_mem_setup(void) {
  const char *s = getenv("MALLOC_ARENA_MAX");
  if (!s || !*s) mallopt(M_ARENA_MAX, HX_MEM_ARENAS);
}

size_t hx_mem_trim(void) {
  struct mallinfo2 mi = mallinfo2();
  if (mi.fordblks < HX_MEM_TRIM_MIN) return 0;
  malloc_trim(0);
  return mi.fordblks;
}
