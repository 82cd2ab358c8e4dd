/*
 * wal.h - the write-ahead log of the vector engine, with group commit.
 *
 * Why it exists: an upsert acknowledged as durable must survive kill -9 and
 * power loss. Every mutation is appended here (under the caller's lock, so log
 * order = apply order) and its caller then waits in hx__wal_sync until the
 * record is fsync'd. Concurrent callers share one write+fdatasync: whoever finds
 * no flush in progress writes everything pending and wakes the others.
 *
 * Byte layout of a log file (all integers little-endian):
 *
 *   header, 32 bytes:
 *     0  u8[8]  magic "HXVECWAL"
 *     8  u32    version (1)
 *    12  u32    reserved (0)
 *    16  u64    start_lsn: records in this file have lsn >= start_lsn
 *    24  u32    CRC32C of bytes 0..23
 *    28  u32    reserved (0)
 *   records, back to back:
 *     0  u32    magic 0x52565848 ("HXVR")
 *     4  u8     version (1)
 *     5  u8     type (engine-defined, non-zero)
 *     6  u16    reserved (0)
 *     8  u32    len: payload bytes (<= 1 GiB)
 *    12  u64    lsn (strictly increasing)
 *    20  u8[len] payload
 *  20+len u32   CRC32C of bytes 0 .. 20+len-1
 *
 * Recovery reads records while magic, version, length, lsn order and CRC hold;
 * the first failure marks the torn or corrupt tail, which is cut (ftruncate +
 * fsync) before the log is reused. The file is replaced (not truncated in
 * place) after a snapshot, via write-temp + fsync + rename + fsync(dir).
 */
#ifndef HX_VEC_WAL_H
#define HX_VEC_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define HX__WAL_HDR 32
#define HX__WAL_REC_HDR 20
#define HX__WAL_MAX_REC (1u << 30)

typedef struct hx__wal hx__wal;

/* Called for each valid record during open, in order. Nonzero return aborts. */
typedef int (*hx__wal_replay_fn)(void *ctx, uint64_t lsn, uint8_t type, const uint8_t *p, size_t n);

/* Parses a log image: calls fn for each valid record and stores the byte length
 * of the valid prefix in *valid. Returns 0, or fn's nonzero result, or
 * HX_ECORRUPT if the header is invalid. Pure function over bytes (fuzz target). */
int hx__wal_parse(const uint8_t *buf, size_t len, size_t *valid, uint64_t *last_lsn,
                  hx__wal_replay_fn fn, void *ctx);

/* Opens dir/wal.log (creating it), replays records with lsn > skip_lsn through
 * fn, cuts a torn tail. New records get lsns above every lsn seen and skip_lsn. */
int hx__wal_open(const char *dir, int no_fsync, uint64_t skip_lsn, hx__wal_replay_fn fn, void *ctx,
                 hx__wal **out, hx_err *err);
void hx__wal_close(hx__wal *w);

/* Appends a record to the in-memory tail; *lsn receives its lsn. Not durable yet. */
int hx__wal_append(hx__wal *w, uint8_t type, const void *p, size_t n, uint64_t *lsn);
/* Waits until every record up to lsn is on disk (group commit). */
int hx__wal_sync(hx__wal *w, uint64_t lsn, hx_err *err);
uint64_t hx__wal_last_lsn(hx__wal *w);
uint64_t hx__wal_bytes(hx__wal *w); /* file + pending */
/* After a snapshot covering every lsn <= last: replaces the log with an empty
 * one. Caller must exclude appenders. */
int hx__wal_reset(hx__wal *w, hx_err *err);

#endif
