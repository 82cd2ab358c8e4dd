/*
 * store.c - snapshots: the whole database at one log sequence number, so the
 * log can be cut and a restart loads graphs instead of rebuilding them.
 *
 * Written to snapshot.hxv.tmp, fsync'd, renamed over snapshot.hxv, directory
 * fsync'd; only then is the log replaced (wal.c), so a crash at any point leaves
 * either the old snapshot + full log or the new snapshot + a log whose records
 * at or below its lsn are skipped on replay.
 *
 * Byte layout (little-endian; str = u32 length + bytes; id = u8 is_uuid, u64
 * num, u8[16] uuid):
 *
 *   u8[8]  magic "HXVSNAP1"
 *   u32    version (1)
 *   u32    reserved (0)
 *   u64    lsn: every log record <= lsn is contained
 *   u32    number of collections, then per collection:
 *     str  name
 *     str  config JSON (vectors, sparse vectors, payload indexes, threshold)
 *     u32  number of tenant shards, then per shard:
 *       str     tenant
 *       u32     n slots, u32 live slots, u32 gdone (slots below are in the graphs)
 *       id[n], u64 version[n], u8 dead[n]
 *       per live slot: str payload JSON
 *       per dense vector: u8 has[n], f32[n*dim], u8 graph present,
 *                         graph (hnsw.c hx__hnsw_save layout) if present
 *       per sparse vector: per slot u32 count (0xffffffff = none), then
 *                          u32 idx[count], f32 val[count]
 *   u32    CRC32C of every byte above
 *   u8[8]  magic "HXVSEND1"
 *
 * Payload indexes, inverted sparse indexes and quantized codes are derived
 * data: rebuilt on load, never stored.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vec/vec_int.h"

#define FLUSH_AT (8u << 20)

typedef struct writer {
  int fd, bad;
  uint32_t crc;
  hx__buf b;
} writer;

static void w_flush(writer *w) {
  if (w->b.oom) w->bad = 1;
  if (w->bad || !w->b.n) return;
  w->crc = hx__crc32c(w->crc, w->b.p, w->b.n);
  const uint8_t *p = w->b.p;
  size_t n = w->b.n;
  while (n) {
    ssize_t k = write(w->fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      w->bad = 1;
      break;
    }
    p += k;
    n -= (size_t)k;
  }
  w->b.n = 0;
}

static void w_maybe(writer *w) {
  if (w->b.n >= FLUSH_AT) w_flush(w);
}

static void w_big(writer *w, const void *p, size_t n) {
  const uint8_t *q = p;
  while (n) {
    size_t k = n < FLUSH_AT ? n : FLUSH_AT;
    hx__buf_put(&w->b, q, k);
    w_flush(w);
    q += k;
    n -= k;
  }
}

static void save_shard(writer *w, const hx__coll *c, const hx__shard *s) {
  hx__put_cstr(&w->b, s->tenant);
  hx__buf_u32(&w->b, s->n);
  hx__buf_u32(&w->b, s->nlive);
  hx__buf_u32(&w->b, s->gdone);
  for (uint32_t i = 0; i < s->n; i++) {
    hx__put_id(&w->b, &s->ids[i]);
    w_maybe(w);
  }
  w_big(w, s->ver, (size_t)s->n * 8);
  w_big(w, s->dead, s->n);
  for (uint32_t i = 0; i < s->n; i++) {
    if (s->dead[i]) continue;
    char *t = json_dumps(s->payload[i], JSON_COMPACT);
    if (!t) w->bad = 1;
    hx__put_cstr(&w->b, t ? t : "");
    free(t);
    w_maybe(w);
  }
  for (uint32_t v = 0; v < c->ndense; v++) {
    const hx__dvec *dv = &s->dv[v];
    w_big(w, dv->has, s->n);
    w_big(w, dv->data, (size_t)s->n * c->dense[v].dim * 4);
    hx__buf_u8(&w->b, dv->g != NULL);
    if (dv->g) hx__hnsw_save(dv->g, &w->b);
    w_flush(w);
  }
  for (uint32_t v = 0; v < c->nsparse; v++) {
    const hx__svec *sv = &s->sv[v];
    for (uint32_t i = 0; i < s->n; i++) {
      if (!sv->idx[i]) {
        hx__buf_u32(&w->b, 0xffffffffu);
        continue;
      }
      hx__buf_u32(&w->b, sv->cnt[i]);
      hx__buf_put(&w->b, sv->idx[i], (size_t)sv->cnt[i] * 4);
      hx__buf_put(&w->b, sv->val[i], (size_t)sv->cnt[i] * 4);
      w_maybe(w);
    }
  }
}

int hx__snapshot_write(hx_vec *db, uint64_t lsn, hx_err *err) {
  char path[4200], tmp[4200];
  snprintf(path, sizeof path, "%s/snapshot.hxv", db->dir);
  snprintf(tmp, sizeof tmp, "%s/snapshot.hxv.tmp", db->dir);
  writer w = {0};
  w.fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (w.fd < 0) return hx_err_set(err, HX_EIO, "snapshot: create %s: %s", tmp, strerror(errno));
  hx__buf_put(&w.b, "HXVSNAP1", 8);
  hx__buf_u32(&w.b, 1);
  hx__buf_u32(&w.b, 0);
  hx__buf_u64(&w.b, lsn);
  hx__buf_u32(&w.b, (uint32_t)db->colls.n);
  HX__SMAP_EACH(&db->colls, ce) {
    hx__coll *c = ce->val;
    hx__put_cstr(&w.b, c->name);
    json_t *cfg = hx__coll_cfg_json(c);
    char *t = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
    json_decref(cfg);
    if (!t) w.bad = 1;
    hx__put_cstr(&w.b, t ? t : "");
    free(t);
    hx__buf_u32(&w.b, (uint32_t)c->shards.n);
    HX__SMAP_EACH(&c->shards, se) save_shard(&w, c, se->val);
  }
  w_flush(&w);
  uint32_t crc = w.crc;
  hx__buf_u32(&w.b, crc);
  hx__buf_put(&w.b, "HXVSEND1", 8);
  w_flush(&w);
  hx__buf_release(&w.b);
  int bad = w.bad || (!db->opts.no_fsync && fsync(w.fd));
  close(w.fd);
  if (bad) {
    unlink(tmp);
    return hx_err_set(err, HX_EIO, "snapshot: write %s failed", tmp);
  }
  if (rename(tmp, path)) return hx_err_set(err, HX_EIO, "snapshot: rename: %s", strerror(errno));
  struct stat st;
  if (!stat(path, &st)) __atomic_store_n(&db->snap_bytes, (uint64_t)st.st_size, __ATOMIC_RELAXED);
  if (!db->opts.no_fsync) {
    int dfd = open(db->dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
  }
  return 0;
}

static int load_shard(hx_vec *db, hx__coll *c, hx__rd *r) {
  char tenant[1024];
  size_t tl;
  const char *t = hx__rd_str(r, &tl);
  if (!t || tl == 0 || tl >= sizeof tenant) return HX_ECORRUPT;
  memcpy(tenant, t, tl);
  tenant[tl] = 0;
  uint32_t n = hx__rd_u32(r), nlive = hx__rd_u32(r), gdone = hx__rd_u32(r);
  if (r->bad || n > (1u << 30) || nlive > n || gdone > n || (size_t)n * 34 > r->n - r->off) return HX_ECORRUPT;
  hx__shard *s = hx__shard_new(c, tenant);
  if (!s) return HX_ENOMEM;
  int rc = HX_ECORRUPT;
  if (hx__shard_reserve(c, s, n ? n : 1) || hx__smap_put(&c->shards, tenant, tl, s)) {
    hx__shard_free(c, s);
    return HX_ENOMEM;
  }
  for (uint32_t i = 0; i < n; i++) s->ids[i] = hx__get_id(r);
  const void *ver = hx__rd_take(r, (size_t)n * 8), *dead = hx__rd_take(r, n);
  if (!ver || !dead) return HX_ECORRUPT;
  if (hx__shard_idmap_reserve(s, nlive + 1)) return HX_ENOMEM;
  memcpy(s->ver, ver, (size_t)n * 8);
  memcpy(s->dead, dead, n);
  s->n = n;
  s->gdone = gdone;
  for (uint32_t i = 0; i < n; i++) {
    if (s->dead[i] > 1) return HX_ECORRUPT;
    if (s->dead[i]) continue;
    if (!(s->payload[i] = hx__get_json(r))) return HX_ECORRUPT;
    if (hx__shard_find(s, &s->ids[i]) != UINT32_MAX) return HX_ECORRUPT; /* duplicate id */
    if ((rc = hx__shard_idmap_put(s, i))) return rc;
    s->nlive++;
    for (uint32_t k = 0; k < s->npi; k++) hx__pidx_add(&c->idx[k], s->pi[k], s->payload[i], i);
  }
  if (s->nlive != nlive) return HX_ECORRUPT;
  for (uint32_t v = 0; v < c->ndense; v++) {
    hx__dvec *dv = &s->dv[v];
    size_t bytes = (size_t)n * c->dense[v].dim * 4;
    const void *has = hx__rd_take(r, n), *data = hx__rd_take(r, bytes);
    if (!has || !data) return HX_ECORRUPT;
    memcpy(dv->has, has, n);
    memcpy(dv->data, data, bytes);
    for (uint32_t i = 0; i < n; i++) {
      if (dv->has[i] > 1) return HX_ECORRUPT;
      dv->nlive_has += !s->dead[i] && dv->has[i];
    }
    uint8_t g = hx__rd_u8(r);
    if (g) {
      dv->g = hx__hnsw_load(r, s->cap);
      if (!dv->g) return HX_ECORRUPT;
      for (uint32_t i = 0; i < n; i++) /* a graph never holds a slot without vector */
        if (hx__hnsw_contains(dv->g, i) && !dv->has[i]) return HX_ECORRUPT;
    }
    if (dv->q.kind && (rc = hx__quant_build(&c->dense[v], dv, s->n, s->cap, dv->q.kind))) return rc;
  }
  for (uint32_t v = 0; v < c->nsparse; v++) {
    for (uint32_t i = 0; i < n; i++) {
      uint32_t cnt = hx__rd_u32(r);
      if (r->bad) return HX_ECORRUPT;
      if (cnt == 0xffffffffu) continue;
      const void *ii = hx__rd_take(r, (size_t)cnt * 4), *vv = hx__rd_take(r, (size_t)cnt * 4);
      if (!ii || !vv || s->dead[i]) return HX_ECORRUPT;
      uint32_t *idx = malloc((size_t)(cnt ? cnt : 1) * 4);
      float *val = malloc((size_t)(cnt ? cnt : 1) * 4);
      if (!idx || !val) {
        free(idx);
        free(val);
        return HX_ENOMEM;
      }
      memcpy(idx, ii, (size_t)cnt * 4);
      memcpy(val, vv, (size_t)cnt * 4);
      if ((rc = hx__svec_add(&s->sv[v], i, idx, val, cnt))) return rc;
    }
  }
  (void)db;
  return r->bad ? HX_ECORRUPT : 0;
}

int hx__snapshot_load(hx_vec *db, hx_err *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s/snapshot.hxv", db->dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    return hx_err_set(err, HX_EIO, "snapshot: open %s: %s", path, strerror(errno));
  }
  struct stat st;
  uint8_t *map = NULL;
  size_t size = 0;
  int rc = 0;
  if (fstat(fd, &st)) {
    rc = hx_err_set(err, HX_EIO, "snapshot: stat: %s", strerror(errno));
    goto out;
  }
  size = (size_t)st.st_size;
  db->snap_bytes = size;
  if (size < 40) {
    rc = hx_err_set(err, HX_ECORRUPT, "snapshot: %s is truncated", path);
    goto out;
  }
  map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) {
    map = NULL;
    rc = hx_err_set(err, HX_EIO, "snapshot: mmap: %s", strerror(errno));
    goto out;
  }
  uint32_t crc;
  memcpy(&crc, map + size - 12, 4);
  if (memcmp(map, "HXVSNAP1", 8) || memcmp(map + size - 8, "HXVSEND1", 8) ||
      crc != hx__crc32c(0, map, size - 12)) {
    rc = hx_err_set(err, HX_ECORRUPT, "snapshot: %s fails its checksum", path);
    goto out;
  }
  hx__rd r = {map, size - 12, 8, 0};
  uint32_t ver = hx__rd_u32(&r);
  hx__rd_u32(&r);
  db->snap_lsn = hx__rd_u64(&r);
  uint32_t nc = hx__rd_u32(&r);
  if (ver != 1) {
    rc = hx_err_set(err, HX_EUNSUPP, "snapshot: version %u not supported", ver);
    goto out;
  }
  for (uint32_t i = 0; i < nc && !r.bad; i++) {
    char name[1024];
    size_t nl, cl;
    const char *nm = hx__rd_str(&r, &nl), *cs = hx__rd_str(&r, &cl);
    if (!nm || !cs || !nl || nl >= sizeof name) break;
    memcpy(name, nm, nl);
    name[nl] = 0;
    json_t *cfg = json_loadb(cs, cl, 0, NULL);
    hx__coll *c = cfg ? hx__coll_new(name, cfg, NULL) : NULL;
    json_decref(cfg);
    if (!c || hx__smap_put(&db->colls, name, nl, c)) {
      hx__coll_free(c);
      r.bad = 1;
      break;
    }
    uint32_t ns = hx__rd_u32(&r);
    for (uint32_t k = 0; k < ns && !r.bad; k++)
      if ((rc = load_shard(db, c, &r))) {
        rc = hx_err_set(err, rc, "snapshot: collection '%s' shard %u is invalid", name, k);
        goto out;
      }
  }
  if (r.bad || r.off != r.n) rc = hx_err_set(err, HX_ECORRUPT, "snapshot: %s is malformed", path);
out:
  if (map) munmap(map, size);
  close(fd);
  return rc;
}
