/*
 * wal.c - write-ahead log: format, recovery and group commit (see wal.h for the
 * byte layout and the contract).
 */
#include "vec/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vec/util_int.h"

#define REC_MAGIC 0x52565848u
static const char FILE_MAGIC[8] = {'H', 'X', 'V', 'E', 'C', 'W', 'A', 'L'};

struct hx__wal {
  char *path, *dir;
  int fd, no_fsync, broken;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int flushing;
  hx__buf pending;
  hx__buf spare;  /* the last flushed buffer, reused: fresh memory costs page faults */
  uint64_t last, durable, file_bytes;
};

static void put_hdr(uint8_t h[HX__WAL_HDR], uint64_t start) {
  memset(h, 0, HX__WAL_HDR);
  memcpy(h, FILE_MAGIC, 8);
  uint32_t ver = 1;
  memcpy(h + 8, &ver, 4);
  memcpy(h + 16, &start, 8);
  uint32_t c = hx__crc32c(0, h, 24);
  memcpy(h + 24, &c, 4);
}

int hx__wal_parse(const uint8_t *buf, size_t len, size_t *valid, uint64_t *last_lsn,
                  hx__wal_replay_fn fn, void *ctx) {
  *valid = 0;
  if (len < HX__WAL_HDR || memcmp(buf, FILE_MAGIC, 8)) return HX_ECORRUPT;
  uint32_t ver, crc;
  uint64_t start;
  memcpy(&ver, buf + 8, 4);
  memcpy(&start, buf + 16, 8);
  memcpy(&crc, buf + 24, 4);
  if (ver != 1 || crc != hx__crc32c(0, buf, 24)) return HX_ECORRUPT;
  size_t off = HX__WAL_HDR;
  uint64_t prev = start ? start - 1 : 0;
  *valid = off;
  if (last_lsn) *last_lsn = prev;
  while (len - off >= HX__WAL_REC_HDR + 4) {
    const uint8_t *r = buf + off;
    uint32_t magic, n;
    uint64_t lsn;
    memcpy(&magic, r, 4);
    memcpy(&n, r + 8, 4);
    memcpy(&lsn, r + 12, 8);
    if (magic != REC_MAGIC || r[4] != 1 || r[5] == 0 || n > HX__WAL_MAX_REC) break;
    if ((size_t)n + HX__WAL_REC_HDR + 4 > len - off) break;
    if (lsn <= prev) break;
    memcpy(&crc, r + HX__WAL_REC_HDR + n, 4);
    if (crc != hx__crc32c(0, r, HX__WAL_REC_HDR + (size_t)n)) break;
    if (fn) {
      int rc = fn(ctx, lsn, r[5], r + HX__WAL_REC_HDR, n);
      if (rc) return rc;
    }
    prev = lsn;
    off += HX__WAL_REC_HDR + (size_t)n + 4;
    *valid = off;
    if (last_lsn) *last_lsn = lsn;
  }
  return 0;
}

static int fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

/* Writes a fresh log holding only a header, atomically replacing path. */
static int write_fresh(hx__wal *w, uint64_t start, hx_err *err) {
  char tmp[4200];
  uint8_t h[HX__WAL_HDR];
  snprintf(tmp, sizeof tmp, "%s.tmp", w->path);
  put_hdr(h, start);
  int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return hx_err_set(err, HX_EIO, "wal: create %s: %s", tmp, strerror(errno));
  if (write(fd, h, sizeof h) != (ssize_t)sizeof h || (!w->no_fsync && fsync(fd))) {
    close(fd);
    return hx_err_set(err, HX_EIO, "wal: write %s: %s", tmp, strerror(errno));
  }
  close(fd);
  if (rename(tmp, w->path) || (!w->no_fsync && fsync_dir(w->dir)))
    return hx_err_set(err, HX_EIO, "wal: rename %s: %s", tmp, strerror(errno));
  int nfd = open(w->path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (nfd < 0) return hx_err_set(err, HX_EIO, "wal: open %s: %s", w->path, strerror(errno));
  if (w->fd >= 0) close(w->fd);
  w->fd = nfd;
  w->file_bytes = HX__WAL_HDR;
  return 0;
}

int hx__wal_open(const char *dir, int no_fsync, uint64_t skip_lsn, hx__wal_replay_fn fn, void *ctx,
                 hx__wal **out, hx_err *err) {
  int rc = 0, fd = -1;
  uint8_t *map = NULL;
  size_t size = 0;
  hx__wal *w = calloc(1, sizeof *w);
  *out = NULL;
  if (!w) return hx_err_set(err, HX_ENOMEM, "out of memory");
  w->fd = -1;
  w->no_fsync = no_fsync;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  w->dir = strdup(dir);
  if (!w->dir || asprintf(&w->path, "%s/wal.log", dir) < 0) {
    w->path = NULL;
    rc = hx_err_set(err, HX_ENOMEM, "out of memory");
    goto out;
  }
  fd = open(w->path, O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT) {
    rc = hx_err_set(err, HX_EIO, "wal: open %s: %s", w->path, strerror(errno));
    goto out;
  }
  uint64_t last = skip_lsn;
  if (fd >= 0) {
    struct stat st;
    if (fstat(fd, &st)) {
      rc = hx_err_set(err, HX_EIO, "wal: stat: %s", strerror(errno));
      goto out;
    }
    size = (size_t)st.st_size;
    if (size < HX__WAL_HDR) {
      /* a log is created complete (temp + rename), so a short one is foreign */
      rc = hx_err_set(err, HX_ECORRUPT, "wal: %s is too short to be a log", w->path);
      goto out;
    }
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      map = NULL;
      rc = hx_err_set(err, HX_EIO, "wal: mmap: %s", strerror(errno));
      goto out;
    }
    size_t valid = 0;
    uint64_t file_last = 0;
    rc = hx__wal_parse(map, size, &valid, &file_last, NULL, NULL);
    if (rc) {
      rc = hx_err_set(err, HX_ECORRUPT, "wal: %s has a bad header", w->path);
      goto out;
    }
    /* second pass replays only the valid prefix, skipping what the snapshot has */
    size_t off = HX__WAL_HDR;
    while (off < valid) {
      const uint8_t *r = map + off;
      uint32_t n;
      uint64_t lsn;
      memcpy(&n, r + 8, 4);
      memcpy(&lsn, r + 12, 8);
      if (lsn > skip_lsn && fn && (rc = fn(ctx, lsn, r[5], r + HX__WAL_REC_HDR, n))) {
        hx_err_set(err, rc, "wal: replay of record lsn %llu failed", (unsigned long long)lsn);
        goto out;
      }
      off += HX__WAL_REC_HDR + n + 4;
    }
    if (file_last > last) last = file_last;
    if (valid < size) {
      if (ftruncate(fd, (off_t)valid) || (!no_fsync && fsync(fd))) {
        rc = hx_err_set(err, HX_EIO, "wal: cutting torn tail: %s", strerror(errno));
        goto out;
      }
    }
    w->file_bytes = valid;
    close(fd);
    fd = -1;
    w->fd = open(w->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (w->fd < 0) {
      rc = hx_err_set(err, HX_EIO, "wal: open %s: %s", w->path, strerror(errno));
      goto out;
    }
  } else if ((rc = write_fresh(w, skip_lsn + 1, err))) {
    goto out;
  }
  w->last = w->durable = last;
  *out = w;
  w = NULL;
out:
  if (map) munmap(map, size);
  if (fd >= 0) close(fd);
  hx__wal_close(w);
  return rc;
}

void hx__wal_close(hx__wal *w) {
  if (!w) return;
  if (w->fd >= 0) close(w->fd);
  hx__buf_release(&w->pending);
  hx__buf_release(&w->spare);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w->path);
  free(w->dir);
  free(w);
}

int hx__wal_append(hx__wal *w, uint8_t type, const void *p, size_t n, uint64_t *lsn) {
  if (n > HX__WAL_MAX_REC) return HX_ETOOBIG;
  uint8_t h[HX__WAL_REC_HDR] = {0};
  uint32_t magic = REC_MAGIC, len = (uint32_t)n;
  pthread_mutex_lock(&w->mu);
  if (w->broken) {
    pthread_mutex_unlock(&w->mu);
    return HX_EIO;
  }
  uint64_t l = w->last + 1;
  memcpy(h, &magic, 4);
  h[4] = 1;
  h[5] = type;
  memcpy(h + 8, &len, 4);
  memcpy(h + 12, &l, 8);
  uint32_t c = hx__crc32c(hx__crc32c(0, h, sizeof h), p, n);
  size_t before = w->pending.n;
  hx__buf_put(&w->pending, h, sizeof h);
  hx__buf_put(&w->pending, p, n);
  hx__buf_put(&w->pending, &c, 4);
  if (w->pending.oom) {
    w->pending.oom = 0;
    w->pending.n = before;
    pthread_mutex_unlock(&w->mu);
    return HX_ENOMEM;
  }
  w->last = l;
  *lsn = l;
  pthread_mutex_unlock(&w->mu);
  return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

int hx__wal_sync(hx__wal *w, uint64_t lsn, hx_err *err) {
  int rc = 0;
  pthread_mutex_lock(&w->mu);
  while (w->durable < lsn) {
    if (w->broken) {
      rc = hx_err_set(err, HX_EIO, "wal: log is unusable after a failed write");
      break;
    }
    if (w->flushing) {
      pthread_cond_wait(&w->cv, &w->mu);
      continue;
    }
    w->flushing = 1;
    hx__buf b = w->pending;
    w->pending = w->spare;
    w->pending.n = 0;
    memset(&w->spare, 0, sizeof w->spare);
    uint64_t target = w->last;
    int fd = w->fd;
    pthread_mutex_unlock(&w->mu);
    int bad = write_all(fd, b.p, b.n) || (!w->no_fsync && fdatasync(fd));
    int e = errno;
    pthread_mutex_lock(&w->mu);
    if (bad) {
      w->broken = 1;
      rc = hx_err_set(err, HX_EIO, "wal: write/fsync: %s", strerror(e));
    } else {
      w->durable = target;
      w->file_bytes += b.n;
    }
    b.n = 0;
    if (b.cap <= (64u << 20) && !w->spare.p) w->spare = b; /* keep up to 64 MiB for reuse */
    else hx__buf_release(&b);
    w->flushing = 0;
    pthread_cond_broadcast(&w->cv);
    if (bad) break;
  }
  pthread_mutex_unlock(&w->mu);
  return rc;
}

uint64_t hx__wal_last_lsn(hx__wal *w) {
  pthread_mutex_lock(&w->mu);
  uint64_t l = w->last;
  pthread_mutex_unlock(&w->mu);
  return l;
}

uint64_t hx__wal_bytes(hx__wal *w) {
  pthread_mutex_lock(&w->mu);
  uint64_t b = w->file_bytes + w->pending.n;
  pthread_mutex_unlock(&w->mu);
  return b;
}

int hx__wal_reset(hx__wal *w, hx_err *err) {
  pthread_mutex_lock(&w->mu);
  while (w->flushing) pthread_cond_wait(&w->cv, &w->mu);
  int rc = write_fresh(w, w->last + 1, err);
  if (!rc) {
    w->pending.n = 0; /* covered by the snapshot */
    w->durable = w->last;
    pthread_cond_broadcast(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return rc;
}
