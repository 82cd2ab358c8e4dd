/*
 * err.h - the one error table of heimdex.
 *
 * Every fallible function returns int: 0 on success, a negative HX_E* code on
 * failure. The table is append-only (never renumber, never remove), so codes
 * stay stable in logs. Human detail travels in an optional hx_err out-parameter
 * whose message becomes the HTTP "detail" of an error response.
 */
#ifndef HX_UTIL_ERR_H
#define HX_UTIL_ERR_H

#include <stddef.h>

#define HX_ERRNO_MAP(X)                                                   \
  X(OK,          0,   200, "ok")                                          \
  X(ENOMEM,     -1,   500, "out of memory")                               \
  X(EINVAL,     -2,   422, "invalid argument")                            \
  X(ENOENT,     -3,   404, "not found")                                   \
  X(EIO,        -4,   500, "i/o error")                                   \
  X(ECORRUPT,   -5,   500, "corrupt data")                                \
  X(EEXIST,     -6,   409, "already exists")                              \
  X(EBUSY,      -7,   503, "busy")                                        \
  X(EDENIED,    -8,   403, "access denied")                               \
  X(ETIMEDOUT,  -9,   504, "timed out")                                   \
  X(EUNSUPP,   -10,   415, "unsupported")                                 \
  X(ETOOBIG,   -11,   413, "too large")                                   \
  X(ESTATE,    -12,   409, "wrong state")                                 \
  X(EUNAUTH,   -13,   401, "unauthorized")                                \
  X(EBADREQ,   -14,   400, "bad request")                                 \
  X(EDB,       -15,   500, "database error")                              \
  X(ECONFIG,   -16,   500, "bad configuration")                           \
  X(ESHUTDOWN, -17,   503, "shutting down")                              \
  X(EUNAVAIL,  -18,   503, "dependency unavailable")

enum {
#define HX__ERR_ENUM(name, code, http, text) HX_##name = (code),
  HX_ERRNO_MAP(HX__ERR_ENUM)
#undef HX__ERR_ENUM
};

/* Detail of a failure. Caller-owned; zero-initialise it ({0}) before use. */
typedef struct hx_err {
  int code;        /* HX_E* */
  int status;      /* HTTP status to answer with, 0 = derive from code */
  char msg[512];   /* becomes the "detail" */
} hx_err;

/* Static text for a code ("unknown error" for codes not in the table). */
const char *hx_strerror(int code);

/* Default HTTP status for a code. */
int hx_err_http_status(int code);

/* Fill e (may be NULL) with code and a printf-style message; returns code, so
 * `return hx_err_set(e, HX_EINVAL, "bad %s", x);` reads naturally. */
int hx_err_set(hx_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like hx_err_set but with an explicit HTTP status (e.g. 400 vs 422). */
int hx_err_setst(hx_err *e, int code, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
