/*
 * hnsw.c - the HNSW graph (see hnsw.h for the algorithm and the contract).
 *
 * Layout: level-0 links of all nodes sit in one array, (2M+1) u32 per node
 * (count, then ids), so a level-0 hop touches one cache-friendly block; upper
 * levels of a node are one malloc'd block of level*(M+1) u32. level[id] = -1
 * marks ids not in the graph.
 */
#include "vec/hnsw.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct visited {
  uint16_t *tag;
  uint32_t cap;
  uint16_t cur;
  struct visited *next;
} visited;

struct hx__hnsw {
  uint32_t m, m0, efc;
  uint32_t cap, count;
  int32_t *level;
  uint32_t *l0;   /* cap * (m0 + 1) */
  uint32_t **up;  /* cap pointers */
  uint32_t entry;
  int32_t maxlevel;
  double mult;
  uint64_t rng;
  pthread_mutex_t vmu;
  visited *pool;
};

static inline uint32_t *links(const hx__hnsw *g, uint32_t id, int lv) {
  if (lv == 0) return g->l0 + (size_t)id * (g->m0 + 1);
  return g->up[id] + (size_t)(lv - 1) * (g->m + 1);
}

hx__hnsw *hx__hnsw_new(uint32_t m, uint32_t efc, uint64_t seed) {
  hx__hnsw *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->m = m < 2 ? 2 : m;
  g->m0 = 2 * g->m;
  g->efc = efc < g->m ? g->m : efc;
  g->mult = 1.0 / log((double)g->m);
  g->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
  g->maxlevel = -1;
  pthread_mutex_init(&g->vmu, NULL);
  return g;
}

void hx__hnsw_free(hx__hnsw *g) {
  if (!g) return;
  for (uint32_t i = 0; i < g->cap; i++) free(g->up[i]);
  free(g->up);
  hx__huge_free(g->l0);
  free(g->level);
  for (visited *v = g->pool, *n; v; v = n) {
    n = v->next;
    free(v->tag);
    free(v);
  }
  pthread_mutex_destroy(&g->vmu);
  free(g);
}

uint32_t hx__hnsw_size(const hx__hnsw *g) { return g->count; }

int hx__hnsw_contains(const hx__hnsw *g, uint32_t id) { return id < g->cap && g->level[id] >= 0; }

int hx__hnsw_reserve(hx__hnsw *g, uint32_t cap) {
  if (cap <= g->cap) return 0;
  uint32_t nc = g->cap ? g->cap : 64;
  while (nc < cap) nc *= 2;
  int32_t *lv = realloc(g->level, (size_t)nc * sizeof *lv);
  if (!lv) return HX_ENOMEM;
  g->level = lv;
  uint32_t *l0 = hx__huge_realloc(g->l0, (size_t)nc * (g->m0 + 1) * sizeof *l0);
  if (!l0) return HX_ENOMEM;
  g->l0 = l0;
  uint32_t **up = realloc(g->up, (size_t)nc * sizeof *up);
  if (!up) return HX_ENOMEM;
  g->up = up;
  for (uint32_t i = g->cap; i < nc; i++) {
    g->level[i] = -1;
    g->up[i] = NULL;
    g->l0[(size_t)i * (g->m0 + 1)] = 0;
  }
  /* visited lists are sized for the old cap: drop them */
  pthread_mutex_lock(&g->vmu);
  for (visited *v = g->pool, *n; v; v = n) {
    n = v->next;
    free(v->tag);
    free(v);
  }
  g->pool = NULL;
  pthread_mutex_unlock(&g->vmu);
  g->cap = nc;
  return 0;
}

static visited *vis_get(hx__hnsw *g) {
  pthread_mutex_lock(&g->vmu);
  visited *v = g->pool;
  if (v) g->pool = v->next;
  pthread_mutex_unlock(&g->vmu);
  if (v && v->cap < g->cap) {
    free(v->tag);
    free(v);
    v = NULL;
  }
  if (!v) {
    v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->tag = calloc(g->cap, sizeof *v->tag);
    if (!v->tag) {
      free(v);
      return NULL;
    }
    v->cap = g->cap;
    hx__huge(v->tag, (size_t)v->cap * sizeof *v->tag);
  }
  if (++v->cur == 0) {
    memset(v->tag, 0, (size_t)v->cap * sizeof *v->tag);
    v->cur = 1;
  }
  return v;
}

static void vis_put(hx__hnsw *g, visited *v) {
  pthread_mutex_lock(&g->vmu);
  v->next = g->pool;
  g->pool = v;
  pthread_mutex_unlock(&g->vmu);
}

static inline void prefetch_links(const hx__hnsw *g, uint32_t id, int lv) {
  const char *l = (const char *)links(g, id, lv);
  __builtin_prefetch(l);
  __builtin_prefetch(l + 64);
  __builtin_prefetch(l + 128);
}

/* Greedy descent from the entry point down to level `stop`+1. */
static uint32_t descend(const hx__hnsw *g, const hx__space *s, const void *q, int stop) {
  uint32_t cur = g->entry;
  float cd = s->dist(s, q, cur);
  for (int lv = g->maxlevel; lv > stop; lv--) {
    int changed = 1;
    while (changed) {
      changed = 0;
      const uint32_t *l = links(g, cur, lv);
      /* codes: fetch every neighbour at once and score them in one call */
      float dist[g->m];
      int batch = s->dist_batch && s->stride <= 512;
      if (batch) {
        for (uint32_t i = 1; i <= l[0]; i++)
          for (size_t o = 0; o < s->stride; o += 64) __builtin_prefetch((const char *)s->base + (size_t)l[i] * s->stride + o);
        s->dist_batch(s, q, l + 1, l[0], dist);
      }
      for (uint32_t i = 1; i <= l[0]; i++) {
        float d = batch ? dist[i - 1] : s->dist(s, q, l[i]);
        if (d < cd) {
          cd = d;
          cur = l[i];
          changed = 1;
        }
      }
    }
  }
  return cur;
}

/* Beam search on one level. top (max-heap) receives up to ef accepted nodes.
 * Rejected nodes are still expanded, so a filter never cuts the graph. query:
 * a search (1) or an insertion (0). */
static int search_level(const hx__hnsw *g, const hx__space *s, const void *q, uint32_t ep, int lv,
                        size_t ef, hx__accept_fn accept, void *actx, visited *vis, hx__heap *top, int query) {
  hx__heap cand;
  if (hx__heap_init(&cand, ef * 2 + 16, 0)) return HX_ENOMEM;
  float d = s->dist(s, q, ep);
  if (!accept || accept(actx, ep)) hx__heap_push(top, d, ep);
  hx__heap_push(&cand, d, ep);
  vis->tag[ep] = vis->cur;
  while (cand.n) {
    hx__cand c = hx__heap_pop(&cand);
    if (top->n >= ef && c.d > top->a[0].d) break;
    /* Collect the unvisited neighbours and start their fetches, so they
     * overlap. Short vectors (quantized codes, up to 8 lines) are fetched whole
     * into L2 at once, and for them a query (not an insert, whose graph should
     * not depend on it) expands the next candidate in the same round when it
     * is still within the beam, so twice as many fetches are in
     * flight per memory round trip (a search on codes is bound by latency, not
     * bandwidth). Long float vectors get their first line now and the rest one
     * vector ahead, while the previous distance is computed (more outstanding
     * fetches of 24-line vectors than the miss buffers hold would only stall). */
    int whole = s->stride <= 512;
    uint32_t todo[2 * g->m0], nt = 0;
    /* the second candidate (expanded next on codes): its links are fetched
     * while this one's neighbours are collected */
    if (whole && query && cand.n) prefetch_links(g, cand.a[0].id, lv);
    for (int round = 0; round < 2; round++) {
      if (round) {
        if (!whole || !query || !cand.n || (top->n >= ef && cand.a[0].d > top->a[0].d)) break;
        c = hx__heap_pop(&cand);
      }
      const uint32_t *l = links(g, c.id, lv);
      for (uint32_t i = 1; i <= l[0]; i++) {
        uint32_t nb = l[i];
        if (vis->tag[nb] == vis->cur) continue;
        vis->tag[nb] = vis->cur;
        todo[nt++] = nb;
        const char *v = (const char *)s->base + (size_t)nb * s->stride;
        if (whole)
          for (size_t o = 0; o < s->stride; o += 64) __builtin_prefetch(v + o, 0, 2);
        else
          __builtin_prefetch(v);
      }
    }
    /* codes: all distances in one kernel call (no call per neighbour) */
    float dist[2 * g->m0];
    int batch = whole && s->dist_batch;
    if (batch && nt) s->dist_batch(s, q, todo, nt, dist);
    for (uint32_t i = 0; i < nt; i++) {
      uint32_t nb = todo[i];
      if (!whole && i + 1 < nt) {
        const char *v = (const char *)s->base + (size_t)todo[i + 1] * s->stride;
        for (size_t o = 64; o < s->stride; o += 64) __builtin_prefetch(v + o);
      }
      float dn = batch ? dist[i] : s->dist(s, q, nb);
      if (top->n < ef || dn < top->a[0].d) {
        if (hx__heap_push(&cand, dn, nb)) goto oom;
        /* the next candidate to expand: fetch its links while we work */
        if (cand.a[0].id == nb) prefetch_links(g, nb, lv);
        if (!accept || accept(actx, nb)) {
          if (hx__heap_push(top, dn, nb)) goto oom;
          if (top->n > ef) hx__heap_pop(top);
        }
      }
    }
  }
  hx__heap_release(&cand);
  return 0;
oom:
  hx__heap_release(&cand);
  return HX_ENOMEM;
}

/* Heuristic selection: from candidates sorted ascending, keep at most m that are
 * closer to the base than to any kept one. Writes ids to out, returns count. */
static uint32_t select_heuristic(const hx__space *s, const hx__cand *c, size_t n, uint32_t m,
                                 uint32_t *out) {
  uint32_t k = 0;
  for (size_t i = 0; i < n && k < m; i++) {
    const void *cv = s->vec(s, c[i].id);
    int good = 1;
    for (uint32_t j = 0; j < k; j++) {
      if (s->dist(s, cv, out[j]) < c[i].d) {
        good = 0;
        break;
      }
    }
    if (good) out[k++] = c[i].id;
  }
  return k;
}

static int cmp_cand(const void *a, const void *b) {
  float x = ((const hx__cand *)a)->d, y = ((const hx__cand *)b)->d;
  return x < y ? -1 : x > y;
}

/* Adds link id → nb on level lv, shrinking nb's list with the heuristic when full. */
static int add_link(hx__hnsw *g, const hx__space *s, uint32_t nb, uint32_t id, int lv) {
  uint32_t *l = links(g, nb, lv);
  uint32_t mx = lv ? g->m : g->m0;
  for (uint32_t i = 1; i <= l[0]; i++)
    if (l[i] == id) return 0;
  if (l[0] < mx) {
    l[++l[0]] = id;
    return 0;
  }
  hx__cand tmp[mx + 1];
  const void *nv = s->vec(s, nb);
  for (uint32_t i = 0; i < mx; i++) tmp[i] = (hx__cand){s->dist(s, nv, l[i + 1]), l[i + 1]};
  tmp[mx] = (hx__cand){s->dist(s, nv, id), id};
  qsort(tmp, mx + 1, sizeof *tmp, cmp_cand);
  l[0] = select_heuristic(s, tmp, mx + 1, mx, l + 1);
  return 0;
}

static int random_level(hx__hnsw *g) {
  g->rng ^= g->rng << 13;
  g->rng ^= g->rng >> 7;
  g->rng ^= g->rng << 17;
  double u = ((g->rng >> 11) + 1) * (1.0 / 9007199254740993.0);
  int lv = (int)(-log(u) * g->mult);
  return lv > 30 ? 30 : lv;
}

int hx__hnsw_insert(hx__hnsw *g, const hx__space *s, uint32_t id) {
  int rc = hx__hnsw_reserve(g, id + 1);
  if (rc) return rc;
  if (g->level[id] >= 0) return HX_EEXIST;
  int lv = random_level(g);
  if (lv > 0) {
    g->up[id] = calloc((size_t)lv * (g->m + 1), sizeof(uint32_t));
    if (!g->up[id]) return HX_ENOMEM;
  }
  g->level[id] = lv;
  links(g, id, 0)[0] = 0;
  g->count++;
  if (g->maxlevel < 0) {
    g->entry = id;
    g->maxlevel = lv;
    return 0;
  }
  const void *q = s->vec(s, id);
  uint32_t ep = descend(g, s, q, lv);
  visited *vis = vis_get(g);
  hx__heap top = {0};
  hx__cand *sorted = malloc((g->efc + 1) * sizeof *sorted);
  if (!vis || !sorted || hx__heap_init(&top, g->efc + 1, 1)) {
    rc = HX_ENOMEM;
    goto out;
  }
  for (int l = lv < g->maxlevel ? lv : g->maxlevel; l >= 0; l--) {
    top.n = 0;
    if (l != (lv < g->maxlevel ? lv : g->maxlevel)) {
      if (++vis->cur == 0) {
        memset(vis->tag, 0, (size_t)vis->cap * sizeof *vis->tag);
        vis->cur = 1;
      }
    }
    rc = search_level(g, s, q, ep, l, g->efc, NULL, NULL, vis, &top, 0);
    if (rc) goto out;
    /* drop self (can't be reached: id has no in-links yet) and sort */
    size_t n = hx__heap_drain_sorted(&top, sorted);
    uint32_t mx = l ? g->m : g->m0;
    uint32_t *own = links(g, id, l);
    own[0] = select_heuristic(s, sorted, n, g->m, own + 1);
    (void)mx;
    for (uint32_t i = 1; i <= own[0]; i++)
      if ((rc = add_link(g, s, own[i], id, l))) goto out;
    ep = sorted[0].id;
  }
  if (lv > g->maxlevel) {
    g->maxlevel = lv;
    g->entry = id;
  }
out:
  hx__heap_release(&top);
  free(sorted);
  if (vis) vis_put(g, vis);
  return rc;
}

size_t hx__hnsw_search(hx__hnsw *g, const hx__space *s, const void *q, uint32_t ef, size_t k,
                       hx__accept_fn accept, void *actx, hx__cand *out) {
  if (g->maxlevel < 0 || !k) return 0;
  if (ef < k) ef = (uint32_t)k;
  uint32_t ep = descend(g, s, q, 0);
  visited *vis = vis_get(g);
  hx__heap top = {0};
  size_t n = 0;
  if (!vis || hx__heap_init(&top, ef + 1, 1)) goto out;
  if (search_level(g, s, q, ep, 0, ef, accept, actx, vis, &top, 1)) goto out;
  while (top.n > k) hx__heap_pop(&top);
  n = hx__heap_drain_sorted(&top, out);
out:
  hx__heap_release(&top);
  if (vis) vis_put(g, vis);
  return n;
}

int hx__hnsw_check(const hx__hnsw *g, hx_err *err) {
  uint32_t count = 0;
  if (g->maxlevel >= 0 && (g->entry >= g->cap || g->level[g->entry] != g->maxlevel))
    return hx_err_set(err, HX_ECORRUPT, "hnsw: entry point %u not on top level %d", g->entry,
                      g->maxlevel);
  for (uint32_t id = 0; id < g->cap; id++) {
    int lv = g->level[id];
    if (lv < 0) continue;
    count++;
    if (lv > g->maxlevel) return hx_err_set(err, HX_ECORRUPT, "hnsw: node %u above top level", id);
    for (int l = 0; l <= lv; l++) {
      const uint32_t *ln = links(g, id, l);
      uint32_t mx = l ? g->m : g->m0;
      if (ln[0] > mx)
        return hx_err_set(err, HX_ECORRUPT, "hnsw: node %u level %d has %u links > %u", id, l,
                          ln[0], mx);
      for (uint32_t i = 1; i <= ln[0]; i++) {
        uint32_t nb = ln[i];
        if (nb == id) return hx_err_set(err, HX_ECORRUPT, "hnsw: node %u links to itself", id);
        if (nb >= g->cap || g->level[nb] < l)
          return hx_err_set(err, HX_ECORRUPT, "hnsw: node %u level %d links to absent %u", id, l,
                            nb);
        for (uint32_t j = 1; j < i; j++)
          if (ln[j] == nb) return hx_err_set(err, HX_ECORRUPT, "hnsw: duplicate link %u→%u", id, nb);
      }
      if (count > 1 && l == 0 && ln[0] == 0 && g->count > 1)
        return hx_err_set(err, HX_ECORRUPT, "hnsw: node %u has no level-0 links", id);
    }
  }
  if (count != g->count)
    return hx_err_set(err, HX_ECORRUPT, "hnsw: %u nodes found, %u recorded", count, g->count);
  return 0;
}

void hx__hnsw_save(const hx__hnsw *g, hx__buf *b) {
  hx__buf_u32(b, g->m);
  hx__buf_u32(b, g->efc);
  hx__buf_u32(b, g->cap);
  hx__buf_u32(b, g->count);
  hx__buf_u32(b, g->entry);
  hx__buf_u32(b, (uint32_t)g->maxlevel);
  hx__buf_u64(b, g->rng);
  hx__buf_put(b, g->level, (size_t)g->cap * sizeof *g->level);
  for (uint32_t id = 0; id < g->cap; id++) {
    if (g->level[id] < 0) continue;
    for (int l = 0; l <= g->level[id]; l++) {
      const uint32_t *ln = links(g, id, l);
      hx__buf_put(b, ln, (ln[0] + 1) * sizeof *ln);
    }
  }
}

hx__hnsw *hx__hnsw_load(hx__rd *r, uint32_t mincap) {
  uint32_t m = hx__rd_u32(r), efc = hx__rd_u32(r), cap = hx__rd_u32(r), count = hx__rd_u32(r);
  uint32_t entry = hx__rd_u32(r);
  int32_t maxlevel = (int32_t)hx__rd_u32(r);
  uint64_t rng = hx__rd_u64(r);
  if (r->bad || m < 2 || m > 1024 || cap > (1u << 30)) return NULL;
  hx__hnsw *g = hx__hnsw_new(m, efc, rng);
  if (!g || hx__hnsw_reserve(g, cap > mincap ? cap : mincap)) goto bad;
  const void *lv = hx__rd_take(r, (size_t)cap * 4);
  if (!lv) goto bad;
  memcpy(g->level, lv, (size_t)cap * 4);
  g->entry = entry;
  g->maxlevel = maxlevel;
  g->count = count;
  if (maxlevel >= 31 || maxlevel < -1 || (maxlevel >= 0 && entry >= cap)) goto bad;
  for (uint32_t id = 0; id < cap; id++) {
    int l = g->level[id];
    if (l < -1 || l > 30) goto bad;
    if (l > 0 && !(g->up[id] = calloc((size_t)l * (g->m + 1), sizeof(uint32_t)))) goto bad;
    for (int k = 0; k <= l; k++) {
      uint32_t n = hx__rd_u32(r);
      if (n > (k ? g->m : g->m0)) goto bad;
      const void *ids = hx__rd_take(r, (size_t)n * 4);
      if (r->bad) goto bad;
      uint32_t *ln = links(g, id, k);
      ln[0] = n;
      memcpy(ln + 1, ids, (size_t)n * 4);
      for (uint32_t i = 1; i <= n; i++)
        if (ln[i] >= cap) goto bad;
    }
  }
  return g;
bad:
  r->bad = 1;
  hx__hnsw_free(g);
  return NULL;
}

size_t hx__hnsw_memory(const hx__hnsw *g) {
  size_t b = (size_t)g->cap * ((g->m0 + 1) * 4 + 4 + sizeof(void *));
  for (uint32_t i = 0; i < g->cap; i++)
    if (g->level[i] > 0) b += (size_t)g->level[i] * (g->m + 1) * 4;
  return b;
}
