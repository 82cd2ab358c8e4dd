/*
 * rpool.h - a pool of hiredis connections to one Redis, for threads that each
 * need a connection for a moment (hiredis contexts are not thread-safe).
 * Connections have connect and command timeouts; a broken one (c->err set) is
 * dropped on put, so the next get reconnects — a restarted Redis is used again
 * without restarting heimdex.
 */
#ifndef HX_UTIL_RPOOL_H
#define HX_UTIL_RPOOL_H

#include <hiredis/hiredis.h>

#include "util/err.h"

typedef struct hx_rpool hx_rpool;

/* redis://[:password@]host[:port][/db]; does not connect yet. */
int hx_rpool_new(const char *url, int connect_timeout_ms, int io_timeout_ms, hx_rpool **out, hx_err *err);
void hx_rpool_free(hx_rpool *p);
redisContext *hx_rpool_get(hx_rpool *p, hx_err *err);   /* NULL with err when Redis is unreachable */
void hx_rpool_put(hx_rpool *p, redisContext *c);        /* accepts NULL */

#endif
