/*
 * log.h - one JSON object per line on stdout:
 *   {"ts","service","env","version","level","msg", ...fields}
 * Lines are written with a single write(2) so concurrent threads never
 * interleave. Text and tokens must never be passed as fields.
 */
#ifndef HX_UTIL_LOG_H
#define HX_UTIL_LOG_H

#include <jansson.h>

void hx_log_setup(const char *service, const char *env, int min_level);

enum { HX_LOG_DEBUG = 0, HX_LOG_INFO = 1, HX_LOG_WARN = 2, HX_LOG_ERROR = 3 };

/* fields: an object whose members are appended (reference stolen; may be NULL). */
void hx_log(int level, const char *msg, json_t *fields);

/* ISO-8601 UTC timestamp with microseconds and "+00:00" (Python isoformat). */
void hx_iso8601(double epoch, char out[40]);
double hx_now(void);        /* wall clock, seconds since the epoch */
double hx_mono(void);       /* monotonic seconds */

#endif
