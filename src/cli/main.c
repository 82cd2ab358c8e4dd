/*
 * main.c - the heimdex command line.
 *
 *   heimdex serve [--listen HOST:PORT] [--data DIR] [--no-worker] [--no-dispatch]
 *   heimdex worker [--data DIR]
 *   heimdex token --org ORG --user USER [--role R] [--minutes N]
 *   heimdex migrate [--data DIR]
 *   heimdex ingest PATH... --server URL --token T [--asset-id ID]   (cli/ingest.h)
 *   heimdex version
 */
#include "api/app.h"
#include "cli/cli.h"
#include "qdrant/qdrant.h"
#include "cli/ingest.h"
#include "queue/queue.h"
#include "obs/metrics.h"
#include "util/mem.h"
#include "util/log.h"
#include "util/sqlw.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char USAGE[] =
    "usage: heimdex <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve     run the HTTP API, the outbox dispatcher and workers (embedded mode)\n"
    "            --listen HOST:PORT  (HEIMDEX_LISTEN, default 127.0.0.1:8000)\n"
    "            --data DIR          (HEIMDEX_DATA_DIR, default ./data)\n"
    "            --no-worker         run no worker threads\n"
    "            --no-dispatch       run no outbox dispatcher\n"
    "  worker    run worker threads only (scale-out with DATABASE_URL + REDIS_URL)\n"
    "            --data DIR\n"
    "  token     print a dev HS256 token (needs DEV_JWT_SECRET)\n"
    "            --org ORG --user USER [--role R] [--minutes N (default 60)]\n"
    "  migrate   create or upgrade the schemas (data directory, PostgreSQL) and exit\n"
    "            --data DIR\n"
    "  ingest    upload documents (files or directories) and wait until they are searchable\n"
    "            PATH... --server URL --token T [--asset-id ID]  (ingest --help)\n"
    "  config    print the effective configuration (secrets masked)\n"
    "  vectors   check the built-in vector engine offline (server stopped), count points per org\n"
    "            --data DIR [--org ORG (also list its point ids)]\n"
    "  doctor    check the configuration, data dir and each dependency\n"
    "  version   print the version\n"
    "\n"
    "Configuration comes from the environment; see README.md.\n";

static int die_config(const hx_err *e) {
  fprintf(stderr, "heimdex: configuration error: %s\n", e->msg);
  return 2;
}

static int parse_common(int argc, char **argv, int *no_worker, int *no_dispatch) {
  static const struct option opts[] = {{"listen", required_argument, 0, 'l'}, {"data", required_argument, 0, 'd'},
                                       {"no-worker", no_argument, 0, 'W'},     {"no-dispatch", no_argument, 0, 'D'},
                                       {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'l': setenv("HEIMDEX_LISTEN", optarg, 1); break;
      case 'd': setenv("HEIMDEX_DATA_DIR", optarg, 1); break;
      case 'W': if (no_worker) *no_worker = 1; break;
      case 'D': if (no_dispatch) *no_dispatch = 1; break;
      case 'h': fputs(USAGE, stdout); exit(0);
      default: fputs(USAGE, stderr); return -1;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "heimdex: unexpected argument: %s\n", argv[optind]);
    return -1;
  }
  return 0;
}

static int open_stores(hx_app *app, hx_err *err) {
  if (mkdir(app->cfg.data_dir, 0700) != 0 && errno != EEXIST)
    return hx_err_set(err, HX_EIO, "cannot create data dir %s: %s", app->cfg.data_dir, strerror(errno));
  char path[600];
  int rc;
  if (app->cfg.use_pg) {
    rc = hx_ledger_open_pg(app->cfg.database_url, &app->ledger, err);
  } else {
    snprintf(path, sizeof path, "%s/ledger.db", app->cfg.data_dir);
    rc = hx_ledger_open_sqlite(path, app->cfg.sync_commit, &app->ledger, err);
  }
  if (rc) return rc;
  /* Qdrant when configured: any number of API and worker processes share it.
   * Else the built-in engine, owned by this one process (a second process on
   * the same data dir is refused with a message pointing at QDRANT_URL). */
  if (app->cfg.enable_qdrant && app->cfg.qdrant_url[0]) {
    hx_vstore_qdrant_opts qo = {.url = app->cfg.qdrant_url, .api_key = app->cfg.qdrant_api_key,
                                .timeout_ms = app->cfg.qdrant_timeout_ms};
    rc = hx_vstore_open_qdrant(&qo, &app->vs, err);
  } else {
    snprintf(path, sizeof path, "%s/vec", app->cfg.data_dir);
    rc = hx_vstore_open_engine(path, app->cfg.sync_commit, &app->vs, err);
  }
  if (rc) return rc;
  if (app->cfg.redis_url[0]) return hx_queue_open_redis(app->cfg.redis_url, app->cfg.queue_visibility_ms, &app->queue, err);
  return hx_queue_open_inproc(&app->queue, err);
}

static void close_stores(hx_app *app) {
  if (app->queue) app->queue->ops->close(app->queue);
  if (app->vs) app->vs->ops->close(app->vs);
  hx_ledger_close(app->ledger);
}

/* serve (http + dispatcher + workers, each optional) and worker (workers only) */
static int run(int http_on, int dispatch_on, int workers_on, const char *service) {
  int rc = 1;
  hx_app app = {0};
  hx_err err = {0};
  if (hx_config_load(&app.cfg, &err)) return die_config(&err);
  hx_log_setup(service, app.cfg.env, app.cfg.log_level);
  app.started_at = hx_now();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (hx_auth_init(&app.auth, &app.cfg, &err)) {
    curl_global_cleanup();
    return die_config(&err);
  }
  hx_sqlw_set_observer(hx_metrics_db_commit);
  app.probes = hx_probes_new(&app.cfg);
  if (hx_ratelimit_new(app.cfg.redis_url, &app.limits, &err)) {
    hx_probes_free(app.probes);
    hx_auth_release(&app.auth);
    return die_config(&err);
  }
  if (!strcmp(app.cfg.dev_jwt_secret, "local-dev-secret"))
    hx_log(HX_LOG_WARN, "dev_jwt_secret_default",
           json_pack("{s:s}", "hint", "DEV_JWT_SECRET is the original's public default; set your own"));

  /* signals are taken synchronously by this thread only */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  hx_workers *workers = NULL;
  hx_http *http = NULL;
  hx_qdrant *qapi = NULL;
  if (hx_models_new(&app.cfg, &app.models, &err)) {
    rc = die_config(&err);
    goto out;
  }
  if (open_stores(&app, &err)) goto fail;
  if (http_on && hx_search_new(HX_SEARCH_CACHE_ENTRIES, &app.search, &err)) goto fail;
  size_t recovered = 0;
  /* only a process that owns the whole embedded pipeline may recover it */
  if (dispatch_on && workers_on && app.ledger->ops->recover(app.ledger, &recovered, &err)) goto fail;
  if (recovered) hx_log(HX_LOG_INFO, "jobs_recovered", json_pack("{s:I}", "count", (json_int_t)recovered));
  if (!app.cfg.redis_url[0] && (dispatch_on != workers_on)) {
    hx_err_set(&err, HX_ECONFIG, "the in-process queue needs the dispatcher and workers in one process:"
                                 " set REDIS_URL to split them");
    goto fail;
  }
  if (dispatch_on && hx_dispatcher_start(&app.cfg, app.ledger, app.queue, &app.disp, &err)) goto fail;
  if (workers_on && hx_workers_start(&app.cfg, app.ledger, app.queue, app.vs, app.models, app.cfg.workers, &workers, &err))
    goto fail;
  if (http_on) {
    /* the Qdrant-compatible API over the same engine, when HEIMDEX_QDRANT_LISTEN is
     * set; up before the main API, so a ready /healthz means both listen */
    if (hx_qdrant_start(hx_vstore_engine_db(app.vs), app.cfg.http_threads, HX_QDRANT_MAX_BODY, &qapi, &err))
      goto fail;
    if (qapi) hx_log(HX_LOG_INFO, "qdrant_api_started", json_pack("{s:i,s:s}", "port", hx_qdrant_port(qapi), "tenant",
                                                                 HX_QDRANT_TENANT));
    hx_http_opts ho = {app.cfg.listen_host, app.cfg.listen_port, app.cfg.http_threads, app.cfg.max_body_bytes,
                       hx_api_routes, &app, NULL};
    if (hx_http_start(&ho, &http, &err)) goto fail;
  }
  hx_log(HX_LOG_INFO, "server_started",
         json_pack("{s:s,s:i,s:s,s:i,s:b,s:b,s:s,s:s}", "host", http_on ? app.cfg.listen_host : "",
                   "port", http ? hx_http_port(http) : 0, "data_dir", app.cfg.data_dir, "workers",
                   workers_on ? app.cfg.workers : 0, "dispatcher", dispatch_on, "durable_commits", app.cfg.sync_commit,
                   "ledger", app.cfg.use_pg ? "postgresql" : "sqlite", "queue", app.cfg.redis_url[0] ? "redis" : "inproc"));

  /* the main thread only waits for a signal: meanwhile it gives the heap's
   * free pages back now and then (util/mem.h) */
  int sig;
  struct timespec tick = {HX_MEM_TRIM_SEC, 0};
  while ((sig = sigtimedwait(&sigs, NULL, &tick)) < 0) {
    double t0 = hx_mono();
    size_t gave = hx_mem_trim();
    if (gave)
      hx_log(HX_LOG_INFO, "heap_trimmed", json_pack("{s:I,s:f}", "bytes_returned", (json_int_t)gave, "duration_ms",
                                                    (hx_mono() - t0) * 1000.0));
  }
  hx_log(HX_LOG_INFO, "shutdown_started", json_pack("{s:i}", "signal", sig));
  rc = 0;
  goto out;
fail:
  fprintf(stderr, "heimdex: %s\n", err.msg);
  hx_log(HX_LOG_ERROR, "startup_failed", json_pack("{s:s}", "error", err.msg));
out:
  /* stop taking requests, let in-flight ones finish, then stop the pipeline;
   * jobs cut short stay 'running' and are recovered at the next start (embedded)
   * or reclaimed from the queue by another worker (Redis) */
  hx_http_quiesce(http);
  hx_qdrant_quiesce(qapi);
  hx_http_stop(http);
  hx_qdrant_stop(qapi);
  hx_dispatcher_stop(app.disp);
  hx_workers_stop(workers);
  close_stores(&app);
  hx_probes_free(app.probes);
  hx_ratelimit_free(app.limits);
  hx_search_free(app.search);
  hx_models_free(app.models);
  hx_auth_release(&app.auth);
  curl_global_cleanup();
  if (rc == 0) hx_log(HX_LOG_INFO, "shutdown_complete", NULL);
  return rc;
}

static int cmd_serve(int argc, char **argv) {
  int no_worker = 0, no_dispatch = 0;
  if (parse_common(argc, argv, &no_worker, &no_dispatch)) return 2;
  return run(1, !no_dispatch, !no_worker, "api");
}

static int cmd_worker(int argc, char **argv) {
  if (parse_common(argc, argv, NULL, NULL)) return 2;
  return run(0, 0, 1, "worker");
}

static int cmd_token(int argc, char **argv) {
  static const struct option opts[] = {{"org", required_argument, 0, 'o'},     {"user", required_argument, 0, 'u'},
                                       {"role", required_argument, 0, 'r'},    {"minutes", required_argument, 0, 'm'},
                                       {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
  const char *org = NULL, *user = NULL, *role = NULL;
  long minutes = 60;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'o': org = optarg; break;
      case 'u': user = optarg; break;
      case 'r': role = optarg; break;
      case 'm': {
        char *end;
        minutes = strtol(optarg, &end, 10);
        if (*end || minutes < 1 || minutes > 525600) {
          fprintf(stderr, "heimdex token: --minutes must be 1..525600\n");
          return 2;
        }
        break;
      }
      case 'h': fputs(USAGE, stdout); return 0;
      default: fputs(USAGE, stderr); return 2;
    }
  }
  if (!org || !user) {
    fprintf(stderr, "heimdex token: --org and --user are required\n");
    return 2;
  }
  const char *secret = getenv("DEV_JWT_SECRET");
  if (!secret || !*secret) {
    fprintf(stderr, "heimdex token: DEV_JWT_SECRET must be set (the secret the server verifies with)\n");
    return 2;
  }
  char *tok = hx_jwt_make_dev(secret, user, org, role, minutes);
  puts(tok);
  free(tok);
  return 0;
}

static int cmd_config(int argc, char **argv) {
  if (parse_common(argc, argv, NULL, NULL)) return 2;
  hx_config cfg;
  hx_err err = {0};
  if (hx_config_load(&cfg, &err)) return die_config(&err);
  json_t *j = hx_config_json(&cfg);
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
  puts(s);
  free(s);
  json_decref(j);
  return 0;
}

/* One line per check; exit 1 if any failed. */
static int doctor_line(const char *what, int ok, const char *detail) {
  printf("%-14s %s%s%s\n", what, ok ? "ok" : "FAIL", detail && *detail ? "  " : "", detail ? detail : "");
  return ok ? 0 : 1;
}

static int cmd_doctor(int argc, char **argv) {
  if (parse_common(argc, argv, NULL, NULL)) return 2;
  hx_app app = {0};
  hx_err err = {0};
  int bad = 0;
  if (hx_config_load(&app.cfg, &err)) {
    doctor_line("config", 0, err.msg);
    return 1;
  }
  hx_log_setup("doctor", app.cfg.env, HX_LOG_ERROR);
  doctor_line("config", 1, NULL);
  char path[600], detail[700];
  snprintf(path, sizeof path, "%s/.doctor-write-test", app.cfg.data_dir);
  int fd = (mkdir(app.cfg.data_dir, 0700) == 0 || errno == EEXIST) ? open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600) : -1;
  int wok = fd >= 0 && write(fd, "ok", 2) == 2 && fsync(fd) == 0;
  if (fd >= 0) close(fd);
  unlink(path);
  snprintf(detail, sizeof detail, "%s%s%s", app.cfg.data_dir, wok ? "" : ": ", wok ? "" : strerror(errno));
  bad |= doctor_line("data dir", wok, detail);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  char reason[64] = "";
  if (app.cfg.use_pg) {
    int ok = hx_probe_pg_once(app.cfg.database_url, 3000, reason);
    bad |= doctor_line("postgresql", ok, ok ? NULL : reason);
    if (ok) {
      hx_ledger *l = NULL;
      ok = hx_ledger_open_pg(app.cfg.database_url, &l, &err) == 0;
      hx_ledger_close(l);
      bad |= doctor_line("schema", ok, ok ? NULL : err.msg);
    }
  } else {
    hx_ledger *l = NULL;
    snprintf(path, sizeof path, "%s/ledger.db", app.cfg.data_dir);
    int ok = hx_ledger_open_sqlite(path, 1, &l, &err) == 0;
    hx_ledger_close(l);
    bad |= doctor_line("ledger", ok, ok ? path : err.msg);
  }
  if (app.cfg.redis_url[0]) {
    int ok = hx_probe_redis_once(app.cfg.redis_url, 3000, reason);
    bad |= doctor_line("redis", ok, ok ? NULL : reason);
  }
  if (app.cfg.qdrant_url[0]) {
    int ok = hx_probe_http_once(app.cfg.qdrant_url, app.cfg.qdrant_api_key, 3000, reason);
    bad |= doctor_line("qdrant", ok, ok ? NULL : reason);
  }
  curl_global_cleanup();
  return bad ? 1 : 0;
}

static int cmd_migrate(int argc, char **argv) {
  if (parse_common(argc, argv, NULL, NULL)) return 2;
  hx_app app = {0};
  hx_err err = {0};
  if (hx_config_load(&app.cfg, &err)) return die_config(&err);
  hx_log_setup("migrate", app.cfg.env, app.cfg.log_level);
  int applied = 0, rc = 0;
  if (app.cfg.use_pg) {
    rc = hx_ledger_migrate_pg(app.cfg.database_url, &applied, &err);
    if (!rc) hx_log(HX_LOG_INFO, "pg_migrated", json_pack("{s:i}", "applied", applied));
    app.cfg.redis_url[0] = '\0'; /* migrate touches no queue */
  }
  if (!rc) rc = open_stores(&app, &err);
  close_stores(&app);
  if (rc) {
    fprintf(stderr, "heimdex migrate: %s\n", err.msg);
    return 1;
  }
  hx_log(HX_LOG_INFO, "migrated", json_pack("{s:s}", "data_dir", app.cfg.data_dir));
  return 0;
}

/* libgomp (the embedder's OpenMP runtime) reads OMP_WAIT_POLICY once, when it
 * loads, before main: its default spins idle threads, which starves everything
 * else on a shared machine (measured: 0.47x vs 1.68x of ONNX Runtime under
 * load). Serving processes therefore re-exec themselves with "passive" unless
 * the operator chose a policy. */
static void passive_openmp(char **argv) {
  if (getenv("OMP_WAIT_POLICY")) return;
  setenv("OMP_WAIT_POLICY", "passive", 1);
  execv("/proc/self/exe", argv);  /* on failure: go on with the default policy */
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("heimdex %s\n", HX_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "serve") || !strcmp(cmd, "worker")) {
    passive_openmp(argv);
    hx_mem_setup();
  }
  if (!strcmp(cmd, "serve")) return cmd_serve(argc - 1, argv + 1);
  if (!strcmp(cmd, "worker")) return cmd_worker(argc - 1, argv + 1);
  if (!strcmp(cmd, "config")) return cmd_config(argc - 1, argv + 1);
  if (!strcmp(cmd, "doctor")) return cmd_doctor(argc - 1, argv + 1);
  if (!strcmp(cmd, "token")) return cmd_token(argc - 1, argv + 1);
  if (!strcmp(cmd, "migrate")) return cmd_migrate(argc - 1, argv + 1);
  if (!strcmp(cmd, "vectors")) return hx_cli_vectors(argc - 1, argv + 1);
  if (!strcmp(cmd, "ingest")) return hx_cli_ingest(argc - 1, argv + 1);
  fprintf(stderr, "heimdex: unknown command '%s'\n\n%s", cmd, USAGE);
  return 2;
}
