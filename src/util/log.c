/* log.c - structured JSON logging. */
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *g_service = "heimdex";
static const char *g_env = "local";
static int g_min = HX_LOG_INFO;
static const char *level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void hx_log_setup(const char *service, const char *env, int min_level) {
  g_service = service;
  g_env = env;
  g_min = min_level;
}

double hx_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double hx_mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void hx_iso8601(double epoch, char out[40]) {
  time_t s = (time_t)epoch;
  long us = (long)((epoch - (double)s) * 1e6);
  if (us < 0) us = 0;
  if (us > 999999) us = 999999;
  struct tm tm;
  gmtime_r(&s, &tm);
  char base[24];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, 40, "%s.%06ld+00:00", base, us);
}

void hx_log(int level, const char *msg, json_t *fields) {
  if (level < g_min) {
    json_decref(fields);
    return;
  }
  char ts[40];
  hx_iso8601(hx_now(), ts);
  json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "ts", ts, "service", g_service, "env", g_env,
                        "version", HX_VERSION, "level", level_names[level & 3], "msg", msg);
  if (fields) json_object_update(o, fields);
  json_decref(fields);
  char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
  json_decref(o);
  if (!line) return;
  size_t n = strlen(line);
  line[n] = '\n';  /* json_dumps allocates n+1: overwrite the NUL, write n+1 bytes */
  ssize_t w = write(STDOUT_FILENO, line, n + 1);
  (void)w;
  free(line);
}
