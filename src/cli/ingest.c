/* ingest.c - `heimdex ingest`: see ingest.h. */
#include "cli/ingest.h"
#include "util/buf.h"

#include <curl/curl.h>
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct item {
  char *path;
  char *asset_id;
  long long bytes;
  char job_id[64];
  char state[16];          /* "" uploading/polling, then completed | failed | refused */
  char *message;           /* error or summary, owned */
  int progress;
} item;

typedef struct ingest {
  const char *server, *token;
  item *v;
  size_t n, cap;
  double timeout_s;
  int tty;
} ingest;

static const char USAGE[] =
    "usage: heimdex ingest PATH... [--server URL] [--token T] [--asset-id ID] [--timeout SECONDS]\n"
    "  --server   the heimdex API (HEIMDEX_URL, default http://127.0.0.1:8000)\n"
    "  --token    a bearer token (HEIMDEX_TOKEN)\n"
    "  --asset-id the asset id when PATH is one file (default: the file's path relative to the\n"
    "             directory given, '/' written as ':')\n"
    "  --timeout  seconds to wait for the jobs (default 1800)\n";

static int add_item(ingest *g, const char *path, const char *asset_id, long long bytes) {
  if (g->n == g->cap) {
    size_t cap = g->cap ? g->cap * 2 : 16;
    item *v = realloc(g->v, cap * sizeof *v);
    if (!v) return -1;
    g->v = v;
    g->cap = cap;
  }
  item *it = &g->v[g->n++];
  memset(it, 0, sizeof *it);
  it->path = strdup(path);
  it->asset_id = strdup(asset_id);
  it->bytes = bytes;
  for (char *p = it->asset_id; p && *p; p++)
    if (*p == '/') *p = ':';
  return it->path && it->asset_id ? 0 : -1;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

/* Add the regular files under dir (rel = the path below the root given). */
static int walk(ingest *g, const char *dir, const char *rel, int depth) {
  struct dirent **ents = NULL;
  int n = scandir(dir, &ents, NULL, by_name);
  if (n < 0) {
    fprintf(stderr, "heimdex ingest: cannot read directory %s\n", dir);
    return -1;
  }
  int rc = 0;
  for (int i = 0; i < n; i++) {
    const char *name = ents[i]->d_name;
    if (name[0] != '.' && !rc && depth < 64) {
      char path[4096], r[4096];
      struct stat st;
      snprintf(path, sizeof path, "%s/%s", dir, name);
      snprintf(r, sizeof r, "%s%s%s", rel, rel[0] ? "/" : "", name);
      if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) rc = walk(g, path, r, depth + 1);
      else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) rc = add_item(g, path, r, (long long)st.st_size);
    }
    free(ents[i]);
  }
  free(ents);
  return rc;
}

static const char *type_of(const char *path) {
  static const struct { const char *ext, *type; } map[] = {
      {".pdf", "application/pdf"},
      {".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {".html", "text/html"}, {".htm", "text/html"}, {".md", "text/markdown"}, {".markdown", "text/markdown"},
      {".txt", "text/plain"}, {".srt", "application/x-subrip"}, {".vtt", "text/vtt"},
  };
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < sizeof map / sizeof map[0]; i++)
    if (!strcasecmp(dot, map[i].ext)) return map[i].type;
  return "application/octet-stream";  /* the server sniffs */
}

static size_t collect(char *data, size_t size, size_t nmemb, void *buf) {
  return hx_buf_add(buf, data, size * nmemb) ? 0 : size * nmemb;
}

/* One request; *json receives the parsed body (or NULL). Returns the HTTP
 * status, or -1 with the transport error in errbuf. */
static long request(const ingest *g, const char *method, const char *url, FILE *upload, long long upload_len,
                    const char *ctype, json_t **json, char errbuf[CURL_ERROR_SIZE]) {
  CURL *c = curl_easy_init();
  if (!c) return -1;
  hx_buf body;
  hx_buf_init(&body, (size_t)16 << 20);
  struct curl_slist *h = NULL;
  char auth[8192], ct[256];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", g->token);
  h = curl_slist_append(h, auth);
  if (ctype) {
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
    h = curl_slist_append(h, ct);
    h = curl_slist_append(h, "Expect:");
  }
  errbuf[0] = '\0';
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);   /* a stalled server: give up after a minute */
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  if (upload) {
    /* streamed from the file by libcurl's default read callback */
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READDATA, upload);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)upload_len);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  }
  long status = -1;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  *json = body.len ? json_loadb(body.data, body.len, 0, NULL) : NULL;
  hx_buf_release(&body);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return status;
}

/* A response's "detail" as one line (strings as they are, lists as JSON). */
static char *detail_of(json_t *j, long status) {
  json_t *d = json_object_get(j, "detail");
  char *s = json_is_string(d) ? strdup(json_string_value(d)) : d ? json_dumps(d, JSON_COMPACT) : NULL;
  if (s) return s;
  char buf[64];
  snprintf(buf, sizeof buf, "HTTP %ld", status);
  return strdup(buf);
}

static void upload_one(const ingest *g, item *it) {
  char errbuf[CURL_ERROR_SIZE];
  FILE *f = fopen(it->path, "rb");
  if (!f) {
    snprintf(it->state, sizeof it->state, "refused");
    it->message = strdup("cannot open the file");
    return;
  }
  CURL *e = curl_easy_init();
  char *aid = e ? curl_easy_escape(e, it->asset_id, 0) : NULL;
  const char *base = strrchr(it->path, '/');
  char *fn = e ? curl_easy_escape(e, base ? base + 1 : it->path, 0) : NULL;
  size_t ulen = strlen(g->server) + (aid ? strlen(aid) : 0) + (fn ? strlen(fn) : 0) + 64;
  char *url = malloc(ulen);
  json_t *j = NULL;
  long st = -1;
  if (url && aid && fn) {
    snprintf(url, ulen, "%s/assets?asset_id=%s&filename=%s", g->server, aid, fn);
    st = request(g, "POST", url, f, it->bytes, type_of(it->path), &j, errbuf);
  }
  const char *job = json_string_value(json_object_get(j, "job_id"));
  if (st == 200 && job) {
    snprintf(it->job_id, sizeof it->job_id, "%s", job);
  } else {
    snprintf(it->state, sizeof it->state, "refused");
    it->message = st < 0 ? strdup(errbuf[0] ? errbuf : "request failed") : detail_of(j, st);
  }
  json_decref(j);
  free(url);
  curl_free(aid);
  curl_free(fn);
  curl_easy_cleanup(e);
  fclose(f);
}

/* Poll the unfinished jobs once; returns how many are still running. */
static size_t poll_jobs(const ingest *g) {
  size_t open = 0;
  for (size_t i = 0; i < g->n; i++) {
    item *it = &g->v[i];
    if (it->state[0]) continue;
    char url[1024], errbuf[CURL_ERROR_SIZE];
    snprintf(url, sizeof url, "%s/jobs/%s", g->server, it->job_id);
    json_t *j = NULL;
    long st = request(g, "GET", url, NULL, 0, NULL, &j, errbuf);
    const char *s = json_string_value(json_object_get(j, "status"));
    if (st == 200 && s) {
      it->progress = (int)json_integer_value(json_object_get(j, "progress"));
      if (!strcmp(s, "completed")) {
        snprintf(it->state, sizeof it->state, "completed");
        json_t *r = json_object_get(j, "result");
        char msg[256];
        snprintf(msg, sizeof msg, "%s, %lld chunks", json_string_value(json_object_get(r, "source_type")) ?: "?",
                 (long long)json_integer_value(json_object_get(r, "chunks")));
        it->message = strdup(msg);
      } else if (!strcmp(s, "failed") || !strcmp(s, "canceled")) {
        snprintf(it->state, sizeof it->state, "failed");
        const char *err = json_string_value(json_object_get(j, "error"));
        it->message = strdup(err ? err : s);
      }
    } else if (st == 401 || st == 403 || st == 404) {
      snprintf(it->state, sizeof it->state, "failed");
      it->message = detail_of(j, st);
    }
    json_decref(j);
    if (!it->state[0]) open++;
  }
  return open;
}

static void report(const item *it) {
  printf("%-9s %s  asset=%s%s%s%s%s\n", it->state, it->path, it->asset_id, it->job_id[0] ? "  job=" : "",
         it->job_id, it->message ? "  " : "", it->message ? it->message : "");
}

static void bar(const ingest *g) {
  size_t done = 0;
  long pct = 0;
  for (size_t i = 0; i < g->n; i++) {
    done += g->v[i].state[0] != '\0';
    pct += g->v[i].state[0] ? 100 : g->v[i].progress;
  }
  pct = g->n ? pct / (long)g->n : 100;
  char b[31];
  for (int i = 0; i < 30; i++) b[i] = i < pct * 30 / 100 ? '#' : '.';
  b[30] = '\0';
  printf("\r[%s] %3ld%%  %zu/%zu files done", b, pct, done, g->n);
  fflush(stdout);
}

int hx_cli_ingest(int argc, char **argv) {
  static const struct option opts[] = {{"server", required_argument, 0, 's'}, {"token", required_argument, 0, 't'},
                                       {"asset-id", required_argument, 0, 'a'}, {"timeout", required_argument, 0, 'T'},
                                       {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
  ingest g = {.server = getenv("HEIMDEX_URL"), .token = getenv("HEIMDEX_TOKEN"), .timeout_s = 1800,
              .tty = isatty(STDOUT_FILENO)};
  const char *asset_id = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 's': g.server = optarg; break;
      case 't': g.token = optarg; break;
      case 'a': asset_id = optarg; break;
      case 'T': g.timeout_s = atof(optarg); break;
      case 'h': fputs(USAGE, stdout); return 0;
      default: fputs(USAGE, stderr); return 2;
    }
  }
  if (!g.server || !*g.server) g.server = "http://127.0.0.1:8000";
  if (optind >= argc || !g.token || !*g.token || g.timeout_s <= 0) {
    fprintf(stderr, "heimdex ingest: %s\n%s", optind >= argc ? "no PATH given" : !g.token || !*g.token
                    ? "--token (or HEIMDEX_TOKEN) is required" : "--timeout must be positive", USAGE);
    return 2;
  }
  char server[2048];
  snprintf(server, sizeof server, "%s", g.server);
  for (size_t l = strlen(server); l && server[l - 1] == '/'; l--) server[l - 1] = '\0';
  g.server = server;
  int rc = 0;
  for (int i = optind; i < argc && !rc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "heimdex ingest: %s: no such file or directory\n", argv[i]);
      rc = 2;
    } else if (S_ISDIR(st.st_mode)) {
      rc = walk(&g, argv[i], "", 0) ? 2 : 0;
    } else {
      const char *base = strrchr(argv[i], '/');
      rc = add_item(&g, argv[i], base ? base + 1 : argv[i], (long long)st.st_size) ? 2 : 0;
    }
  }
  if (!rc && asset_id) {
    if (g.n != 1) {
      fprintf(stderr, "heimdex ingest: --asset-id needs exactly one file (got %zu)\n", g.n);
      rc = 2;
    } else {
      free(g.v[0].asset_id);
      g.v[0].asset_id = strdup(asset_id);
    }
  }
  if (!rc && g.n == 0) {
    fprintf(stderr, "heimdex ingest: no files found\n");
    rc = 2;
  }
  if (rc) goto out;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  for (size_t i = 0; i < g.n; i++) {
    if (g.tty) {
      printf("\ruploading %zu/%zu: %s\033[K", i + 1, g.n, g.v[i].path);
      fflush(stdout);
    }
    upload_one(&g, &g.v[i]);
    if (g.v[i].state[0] && !g.tty) report(&g.v[i]);
  }
  if (g.tty) printf("\r\033[K");
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int *shown = calloc(g.n, sizeof *shown);
  for (;;) {
    size_t open = poll_jobs(&g);
    for (size_t i = 0; i < g.n && !g.tty; i++)
      if (g.v[i].job_id[0] && g.v[i].state[0] && shown && !shown[i]) {
        report(&g.v[i]);
        shown[i] = 1;
      }
    if (g.tty) bar(&g);
    clock_gettime(CLOCK_MONOTONIC, &now);
    double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
    if (!open || el > g.timeout_s) break;
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  free(shown);
  curl_global_cleanup();
  if (g.tty) {
    printf("\n");
    for (size_t i = 0; i < g.n; i++) report(&g.v[i]);
  }
  size_t ok = 0, failed = 0, refused = 0, waiting = 0;
  for (size_t i = 0; i < g.n; i++) {
    const char *s = g.v[i].state;
    if (!strcmp(s, "completed")) ok++;
    else if (!strcmp(s, "failed")) failed++;
    else if (!strcmp(s, "refused")) refused++;
    else waiting++;
  }
  printf("ingested %zu of %zu files: %zu completed, %zu failed, %zu refused, %zu still running\n", ok, g.n, ok,
         failed, refused, waiting);
  rc = ok == g.n ? 0 : 1;
out:
  for (size_t i = 0; i < g.n; i++) {
    free(g.v[i].path);
    free(g.v[i].asset_id);
    free(g.v[i].message);
  }
  free(g.v);
  return rc;
}
