/* err.c - the error table's text and HTTP statuses, and hx_err helpers. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *hx_strerror(int code) {
  switch (code) {
#define HX__ERR_TEXT(name, c, http, text) case c: return text;
    HX_ERRNO_MAP(HX__ERR_TEXT)
#undef HX__ERR_TEXT
  }
  return "unknown error";
}

int hx_err_http_status(int code) {
  switch (code) {
#define HX__ERR_HTTP(name, c, http, text) case c: return http;
    HX_ERRNO_MAP(HX__ERR_HTTP)
#undef HX__ERR_HTTP
  }
  return 500;
}

static int vset(hx_err *e, int code, int status, const char *fmt, va_list ap) {
  if (e) {
    e->code = code;
    e->status = status;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  }
  return code;
}

int hx_err_set(hx_err *e, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset(e, code, 0, fmt, ap);
  va_end(ap);
  return code;
}

int hx_err_setst(hx_err *e, int code, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset(e, code, status, fmt, ap);
  va_end(ap);
  return code;
}
