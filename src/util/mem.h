/*
 * mem.h - keeping a long-running process's heap small (glibc malloc).
 *
 * Why: a server that frees as much as it allocates can still grow. glibc
 * gives each thread that meets contention its own arena (up to 8 per core),
 * and memory freed inside an arena stays mapped (resident) until the arena's
 * top is free or someone trims. Under steady load the resident set then creeps
 * up with free memory nobody uses: many HTTP threads each keep their arena's
 * high-water mark, and big structures rebuilt in place (an engine shard
 * compacted, a reallocated array) leave holes behind.
 *
 *  - hx_mem_setup caps the arenas at HX_MEM_ARENAS unless the operator set
 *    MALLOC_ARENA_MAX (glibc's own variable, which then wins);
 *  - hx_mem_trim gives free pages of every arena back to the system
 *    (malloc_trim) when VmRSS has grown by HX_MEM_TRIM_GROWTH (or by
 *    1/HX_MEM_TRIM_GROWTH_DIV of itself, if more) since the last trim; serving
 *    processes call it every HX_MEM_TRIM_SEC seconds from their otherwise idle
 *    main thread. Only on growth: malloc_trim walks every free chunk of every
 *    arena holding its lock, and after a large ingest (100-160 MB held free,
 *    fragmented) that is 30-100 ms during which every thread that allocates
 *    waits; trimming every 10 s regardless put those stalls into bench/search's
 *    p99 (and returned nothing after the first time);
 *  - hx_mem_heap reads malloc's figures (mallinfo2 walks the arenas the same
 *    way, so it is read at most every HX_MEM_HEAP_EVERY_SEC seconds).
 *
 * Both are no-ops for what they cannot see (another allocator, a sanitizer's).
 */
#ifndef HX_UTIL_MEM_H
#define HX_UTIL_MEM_H

#include <stddef.h>

/* 16: with 16 HTTP threads, 4 arenas cost bench/search 20-30% of its vector
 * queries per second on 2 cores (2,448-2,765 req/s against 3,245 with 16); the
 * periodic trim keeps the free memory of the extra arenas from staying resident */
#define HX_MEM_ARENAS 16
#define HX_MEM_TRIM_GROWTH (8L << 20)
#define HX_MEM_TRIM_GROWTH_DIV 32
#define HX_MEM_TRIM_SEC 10
#define HX_MEM_HEAP_EVERY_SEC 60

/* Call once at start, before threads. */
void hx_mem_setup(void);

/* Trim when VmRSS grew (see above); returns the bytes it gave back. Safe from
 * any thread. */
size_t hx_mem_trim(void);

/* VmRSS in bytes (0 when unknown). */
long hx_mem_rss(void);

/* malloc's bytes in use and held free, as of at most HX_MEM_HEAP_EVERY_SEC
 * seconds ago. */
void hx_mem_heap(size_t *in_use, size_t *held_free);

#endif
