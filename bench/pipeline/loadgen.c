/*
 * loadgen.c - bench/pipeline's client: C threads, each with one keep-alive
 * HTTP/1.1 connection to 127.0.0.1, submit N POST /vectors/mock jobs, then
 * poll GET /jobs/{id} until every job is completed. Completion times come from
 * the ledger (job.finished_at), so polling does not distort latency: it only
 * confirms through the API that each job completed.
 *
 *   loadgen PORT TOKEN N CLIENTS LEDGER_DB
 * prints one line of JSON with the figures.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port, nclients;
static long njobs;
static const char *token;
static char (*job_ids)[37];
static double *submit_t;
static long next_job;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long errors;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_lo(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) { perror("connect"); exit(1); }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* Send a request and read the response body into buf; returns the status. */
static int http(int *fd, const char *method, const char *path, const char *body, char *buf, size_t cap) {
  char req[2048];
  int n = snprintf(req, sizeof req,
                   "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\n\r\n%s", method, path, token, body ? strlen(body) : 0, body ? body : "");
  for (int attempt = 0; attempt < 2; attempt++) {
    if (write(*fd, req, (size_t)n) != n) { close(*fd); *fd = connect_lo(); continue; }
    size_t got = 0;
    char *hdr_end = NULL;
    long clen = -1;
    while (1) {
      ssize_t r = read(*fd, buf + got, cap - 1 - got);
      if (r <= 0) break;
      got += (size_t)r;
      buf[got] = 0;
      if (!hdr_end && (hdr_end = strstr(buf, "\r\n\r\n"))) {
        char *cl = strcasestr(buf, "Content-Length:");
        clen = cl ? strtol(cl + 15, NULL, 10) : 0;
      }
      if (hdr_end && (long)(got - (size_t)(hdr_end + 4 - buf)) >= clen) break;
    }
    if (!hdr_end) { close(*fd); *fd = connect_lo(); continue; }
    int status = atoi(buf + 9);
    memmove(buf, hdr_end + 4, got - (size_t)(hdr_end + 4 - buf) + 1);
    return status;
  }
  return -1;
}

static void *submitter(void *p) {
  int fd = connect_lo();
  char buf[65536], body[256];
  for (;;) {
    pthread_mutex_lock(&mu);
    long i = next_job < njobs ? next_job++ : -1;
    pthread_mutex_unlock(&mu);
    if (i < 0) break;
    snprintf(body, sizeof body, "{\"asset_id\":\"bench-%ld\",\"segment_id\":\"chunk-%ld\"}", (long)getpid(), i);
    submit_t[i] = now();
    int st = http(&fd, "POST", "/vectors/mock", body, buf, sizeof buf);
    char *j = strstr(buf, "\"job_id\":\"");
    if (st != 200 || !j) { __sync_fetch_and_add(&errors, 1); continue; }
    memcpy(job_ids[i], j + 10, 36);
    job_ids[i][36] = 0;
  }
  close(fd);
  return NULL;
}

static long polled_next;
static long completed_seen;

static void *poller(void *p) {
  int fd = connect_lo();
  char buf[65536], path[64];
  for (;;) {
    long i = __sync_fetch_and_add(&polled_next, 1);
    if (i >= njobs) break;
    if (!job_ids[i][0]) continue;
    snprintf(path, sizeof path, "/jobs/%s", job_ids[i]);
    for (int tries = 0; tries < 100000; tries++) {
      int st = http(&fd, "GET", path, NULL, buf, sizeof buf);
      if (st == 200 && strstr(buf, "\"status\":\"completed\"")) { __sync_fetch_and_add(&completed_seen, 1); break; }
      if (st != 200 || strstr(buf, "\"status\":\"failed\"")) { __sync_fetch_and_add(&errors, 1); break; }
      usleep(2000);
    }
  }
  close(fd);
  return NULL;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 6) { fprintf(stderr, "usage: loadgen PORT TOKEN N CLIENTS LEDGER_DB\n"); return 2; }
  port = atoi(argv[1]);
  token = argv[2];
  njobs = atol(argv[3]);
  nclients = atoi(argv[4]);
  job_ids = calloc((size_t)njobs, sizeof *job_ids);
  submit_t = calloc((size_t)njobs, sizeof *submit_t);
  pthread_t *th = calloc((size_t)nclients, sizeof *th);
  double t0 = now();
  for (int i = 0; i < nclients; i++) pthread_create(&th[i], NULL, submitter, NULL);
  for (int i = 0; i < nclients; i++) pthread_join(th[i], NULL);
  double t_submitted = now();
  if (getenv("LOADGEN_SUBMIT_ONLY")) {
    printf("{\"jobs\":%ld,\"errors\":%ld,\"submit_per_s\":%.0f}\n", njobs, errors, njobs / (t_submitted - t0));
    return 0;
  }
  for (int i = 0; i < nclients; i++) pthread_create(&th[i], NULL, poller, NULL);
  for (int i = 0; i < nclients; i++) pthread_join(th[i], NULL);

  /* completion times from the ledger: "-" = another ledger (PostgreSQL); then
   * the submit times are written to LOADGEN_DUMP for the caller to join */
  if (!strcmp(argv[5], "-")) {
    const char *dump = getenv("LOADGEN_DUMP");
    FILE *f = dump ? fopen(dump, "w") : NULL;
    for (long i = 0; f && i < njobs; i++)
      if (job_ids[i][0]) fprintf(f, "%s %.6f\n", job_ids[i], submit_t[i]);
    if (f) fclose(f);
    printf("{\"jobs\":%ld,\"completed\":%ld,\"errors\":%ld,\"submit_s\":%.3f,\"submit_per_s\":%.0f,\"t0\":%.6f}\n",
           njobs, completed_seen, errors, t_submitted - t0, njobs / (t_submitted - t0), t0);
    return errors ? 1 : 0;
  }
  sqlite3 *db;
  if (sqlite3_open_v2(argv[5], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) { fprintf(stderr, "open ledger\n"); return 1; }
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "SELECT finished_at FROM job WHERE id = ?", -1, &st, NULL);
  double *lat = calloc((size_t)njobs, sizeof *lat), last = 0;
  long nl = 0;
  for (long i = 0; i < njobs; i++) {
    if (!job_ids[i][0]) continue;
    sqlite3_bind_text(st, 1, job_ids[i], -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
      double f = sqlite3_column_double(st, 0);
      lat[nl++] = f - submit_t[i];
      if (f > last) last = f;
    }
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  qsort(lat, (size_t)nl, sizeof *lat, cmp_d);
  double span = last - t0;
  printf("{\"jobs\":%ld,\"completed\":%ld,\"errors\":%ld,\"submit_s\":%.3f,\"e2e_s\":%.3f,\"submit_per_s\":%.0f,"
         "\"jobs_per_s\":%.0f,\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"max_ms\":%.1f}\n",
         njobs, completed_seen, errors, t_submitted - t0, span, njobs / (t_submitted - t0), nl / span,
         nl ? lat[nl / 2] * 1000 : 0, nl ? lat[(long)(nl * 0.99)] * 1000 : 0, nl ? lat[nl - 1] * 1000 : 0);
  return errors ? 1 : 0;
}
