/* The SQLite ledger's contract: idempotent create under a race, the
 * start/finish lifecycle with events, retries, recovery after a crash, the
 * outbox claim, and that the raw request is gone once a job ends. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "jobs/store.h"
#include "util/log.h"

static char dir[256];

static hx_ledger *open_ledger(void) {
  char path[300];
  snprintf(path, sizeof path, "%s/ledger.db", dir);
  hx_ledger *l = NULL;
  hx_err err = {0};
  assert_int_equal(hx_ledger_open_sqlite(path, 0, &l, &err), 0);
  return l;
}

static int setup(void **st) {
  snprintf(dir, sizeof dir, "/tmp/hx-ledger-XXXXXX");
  assert_non_null(mkdtemp(dir));
  return 0;
}

static int teardown(void **st) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd);
}

typedef struct { hx_ledger *l; char id[37]; int created; int rc; } racer;

static void *race(void *p) {
  racer *r = p;
  hx_uuid u;
  char proposed[37];
  hx_uuid_v4(&u);
  hx_uuid_str(&u, proposed);
  json_t *payload = json_pack("{s:[s]}", "args", proposed);
  hx_job_new j = {proposed, "550e8400-e29b-41d4-a716-446655440000", "mock_embedding", "key-race", "u", "mock_embedding",
                  payload, 4};
  hx_err err = {0};
  r->rc = r->l->ops->create(r->l, &j, r->id, &r->created, &err);
  json_decref(payload);
  return NULL;
}

static void test_create_race(void **st) {
  hx_ledger *l = open_ledger();
  racer rs[8];
  pthread_t t[8];
  for (int i = 0; i < 8; i++) {
    rs[i] = (racer){.l = l};
    pthread_create(&t[i], NULL, race, &rs[i]);
  }
  int created = 0;
  for (int i = 0; i < 8; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(rs[i].rc, 0);
    assert_string_equal(rs[i].id, rs[0].id);
    created += rs[i].created;
  }
  assert_int_equal(created, 1);
  hx_ledger_stats ls;
  hx_err err = {0};
  assert_int_equal(l->ops->stats(l, &ls, &err), 0);
  assert_int_equal(ls.outbox_unsent, 1);
  assert_int_equal(ls.jobs_open, 1);
  assert_true(ls.outbox_oldest_age_s >= 0 && ls.outbox_oldest_age_s < 60);
  hx_ledger_close(l);
}

static void create(hx_ledger *l, const char *key, char id[37]) {
  hx_uuid u;
  char proposed[37];
  hx_uuid_v4(&u);
  hx_uuid_str(&u, proposed);
  json_t *payload = json_pack("{s:[s],s:s}", "args", proposed, "text", "raw text");
  hx_job_new j = {proposed, "550e8400-e29b-41d4-a716-446655440000", "t", key, "u", "task", payload, 2};
  hx_err err = {0};
  int c;
  assert_int_equal(l->ops->create(l, &j, id, &c, &err), 0);
  assert_int_equal(c, 1);
  json_decref(payload);
}

static void test_lifecycle(void **st) {
  hx_ledger *l = open_ledger();
  char a[37], b[37];
  create(l, "k-a", a);
  create(l, "k-b", b);
  hx_job_msg msgs[10];
  size_t n;
  hx_err err = {0};
  assert_int_equal(l->ops->claim(l, msgs, 10, &n, &err), 0);
  assert_true(n >= 2);
  size_t n2;
  hx_job_msg more[10];
  assert_int_equal(l->ops->claim(l, more, 10, &n2, &err), 0);
  assert_int_equal(n2, 0); /* reserved rows are not claimed twice */
  /* a publish failure hands them back */
  assert_int_equal(l->ops->claimed(l, msgs, n, 0, "queue down", &err), 0);
  assert_int_equal(l->ops->claim(l, more, 10, &n2, &err), 0);
  assert_int_equal(n2, n);
  assert_int_equal(l->ops->claimed(l, more, n2, n2, NULL, &err), 0);
  for (size_t i = 0; i < n; i++) {
    hx_job_msg_release(&msgs[i]);
    hx_job_msg_release(&more[i]);
  }

  const char *ids[2] = {a, b};
  int started[2], attempt[2];
  assert_int_equal(l->ops->start(l, ids, NULL, 2, started, attempt, &err), 0);
  assert_int_equal(started[0], 1);
  assert_int_equal(attempt[0], 1);
  assert_int_equal(l->ops->start(l, ids, NULL, 2, started, attempt, &err), 0);
  assert_int_equal(started[0], 0); /* already running: a duplicate delivery is skipped */
  int reclaimed[2] = {0, 1};
  assert_int_equal(l->ops->start(l, ids, reclaimed, 2, started, attempt, &err), 0);
  assert_int_equal(started[0], 0);
  assert_int_equal(started[1], 1); /* ... unless its consumer died and it was reclaimed */
  assert_int_equal(attempt[1], 2);

  hx_job_step steps[1] = {{"working", 50, hx_now()}};
  json_t *res = json_pack("{s:i}", "x", 1);
  hx_job_outcome oc[2] = {
      {.job_id = a, .steps = steps, .nsteps = 1, .ok = 1, .result = res},
      {.job_id = b, .ok = 0, .error = "boom", .retry = 1, .not_before = hx_now() + 100},
  };
  assert_int_equal(l->ops->finish(l, oc, 2, &err), 0);
  json_decref(res);
  hx_job_view v;
  assert_int_equal(l->ops->get(l, a, &v, &err), 0);
  assert_string_equal(v.status, "succeeded");
  assert_int_equal(v.progress, 100);
  assert_int_equal(json_integer_value(json_object_get(v.result, "x")), 1);
  assert_string_equal(hx_job_status_api(v.status), "completed");
  hx_job_view_release(&v);
  assert_int_equal(l->ops->get(l, b, &v, &err), 0);
  assert_string_equal(v.status, "queued");
  assert_string_equal(v.error, "boom");
  hx_job_view_release(&v);

  /* b runs again and fails for good */
  assert_int_equal(l->ops->start(l, &ids[1], NULL, 1, started, attempt, &err), 0);
  assert_int_equal(attempt[0], 3);
  hx_job_outcome fail = {.job_id = b, .ok = 0, .error = "boom again", .retry = 0};
  assert_int_equal(l->ops->finish(l, &fail, 1, &err), 0);
  assert_int_equal(l->ops->get(l, b, &v, &err), 0);
  assert_string_equal(v.status, "failed");
  assert_string_equal(v.error, "boom again");
  hx_job_view_release(&v);
  hx_ledger_stats ls;
  assert_int_equal(l->ops->stats(l, &ls, &err), 0);
  assert_int_equal(ls.jobs_open, 0);
  hx_ledger_close(l);

  /* the raw request is gone once jobs end */
  char path[300];
  snprintf(path, sizeof path, "%s/ledger.db", dir);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *s;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox WHERE job_id IN (?,?)", -1, &s, NULL);
  sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(s, 0), 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

static void sql_exec(const char *q) {
  char path[300];
  snprintf(path, sizeof path, "%s/ledger.db", dir);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  assert_int_equal(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

/* prune: rows of ended jobs older than the retention go; an open job's row
 * stays however old it is (recovery re-delivers from it). */
static void test_prune(void **st) {
  hx_ledger *l = open_ledger();
  char a[37], b[37], q[512];
  create(l, "k-a", a);
  create(l, "k-b", b);
  hx_err err = {0};
  int started[1], attempt[1];
  const char *ids[1] = {a};
  assert_int_equal(l->ops->start(l, ids, NULL, 1, started, attempt, &err), 0);
  hx_job_outcome ok = {.job_id = a, .ok = 1};
  assert_int_equal(l->ops->finish(l, &ok, 1, &err), 0);
  /* a row left behind for the ended job a (e.g. by an older version), one
   * hour old, and b's unsent row made just as old */
  snprintf(q, sizeof q, "INSERT INTO outbox(job_id, task_name, payload, created_at) VALUES ('%s', 'mock_embedding',"
           " '{\"text\":\"raw\"}', %f); UPDATE outbox SET created_at = %f WHERE job_id = '%s';",
           a, hx_now() - 3600, hx_now() - 3600, b);
  sql_exec(q);
  size_t n = 99;
  assert_int_equal(l->ops->prune(l, 7200, &n, &err), 0);
  assert_int_equal(n, 0);   /* younger than the retention */
  assert_int_equal(l->ops->prune(l, 60, &n, &err), 0);
  assert_int_equal(n, 1);   /* a's row; b is still queued */
  assert_int_equal(l->ops->prune(l, 0, &n, &err), 0);
  assert_int_equal(n, 0);
  hx_job_msg msgs[4];
  assert_int_equal(l->ops->claim(l, msgs, 4, &n, &err), 0);
  assert_int_equal(n, 1);
  assert_string_equal(msgs[0].job_id, b);
  assert_int_equal(l->ops->claimed(l, msgs, n, n, NULL, &err), 0);
  hx_job_msg_release(&msgs[0]);
  hx_ledger_close(l);
}

static void test_recover(void **st) {
  hx_ledger *l = open_ledger();
  char c[37];
  create(l, "k-c", c);
  hx_job_msg msgs[10];
  size_t n;
  hx_err err = {0};
  assert_int_equal(l->ops->claim(l, msgs, 10, &n, &err), 0);
  const char *ids[1] = {c};
  int started[1], attempt[1];
  assert_int_equal(l->ops->claimed(l, msgs, n, n, NULL, &err), 0);
  for (size_t i = 0; i < n; i++) hx_job_msg_release(&msgs[i]);
  assert_int_equal(l->ops->start(l, ids, NULL, 1, started, attempt, &err), 0);
  hx_ledger_close(l);   /* "crash" while c is running */

  l = open_ledger();
  size_t rec = 0;
  assert_int_equal(l->ops->recover(l, &rec, &err), 0);
  assert_true(rec >= 1);
  hx_job_view v;
  assert_int_equal(l->ops->get(l, c, &v, &err), 0);
  assert_string_equal(v.status, "queued");
  hx_job_view_release(&v);
  assert_int_equal(l->ops->claim(l, msgs, 10, &n, &err), 0);
  int found = 0;
  for (size_t i = 0; i < n; i++) {
    found |= !strcmp(msgs[i].job_id, c);
    hx_job_msg_release(&msgs[i]);
  }
  assert_true(found);
  hx_ledger_close(l);
}

/* Asset records: put/get, done only for the job the record names, a failed
 * version keeps the stored chunks' description, delete. */
static void test_assets(void **st) {
  hx_ledger *l = open_ledger();
  hx_err err = {0};
  const char *org = "550e8400-e29b-41d4-a716-446655440000";
  hx_asset_view a = {0}, v;
  assert_int_equal(l->ops->asset_get(l, org, "doc", &v, &err), HX_ENOENT);
  snprintf(a.org_id, sizeof a.org_id, "%s", org);
  snprintf(a.asset_id, sizeof a.asset_id, "doc");
  snprintf(a.job_id, sizeof a.job_id, "01a20bc7-0000-7000-8000-000000000001");
  snprintf(a.filename, sizeof a.filename, "a.pdf");
  snprintf(a.content_sha256, sizeof a.content_sha256, "%064d", 1);
  a.bytes = 10;
  assert_int_equal(l->ops->asset_put(l, &a, &err), 0);
  snprintf(a.status, sizeof a.status, "ready");
  snprintf(a.source_type, sizeof a.source_type, "pdf");
  snprintf(a.model, sizeof a.model, "lexical");
  snprintf(a.model_ver, sizeof a.model_ver, "v1");
  a.chunk_count = 7;
  assert_int_equal(l->ops->asset_done(l, &a, &err), 0);
  assert_int_equal(l->ops->asset_get(l, org, "doc", &v, &err), 0);
  assert_string_equal(v.status, "ready");
  assert_int_equal(v.chunk_count, 7);
  assert_string_equal(v.content_sha256, a.content_sha256);
  /* another org does not see it */
  assert_int_equal(l->ops->asset_get(l, "6ba7b810-9dad-41d1-80b4-00c04fd430c8", "doc", &v, &err), HX_ENOENT);
  /* a new upload: counts kept until its job is done */
  hx_asset_view b = a;
  snprintf(b.job_id, sizeof b.job_id, "01a20bc7-0000-7000-8000-000000000002");
  assert_int_equal(l->ops->asset_put(l, &b, &err), 0);
  assert_int_equal(l->ops->asset_get(l, org, "doc", &v, &err), 0);
  assert_string_equal(v.status, "queued");
  assert_int_equal(v.chunk_count, 7);
  assert_string_equal(v.job_id, b.job_id);
  /* the old job finishing late changes nothing */
  a.chunk_count = 99;
  assert_int_equal(l->ops->asset_done(l, &a, &err), 0);
  assert_int_equal(l->ops->asset_get(l, org, "doc", &v, &err), 0);
  assert_int_equal(v.chunk_count, 7);
  /* the new one failing keeps the stored chunks' description */
  snprintf(b.status, sizeof b.status, "failed");
  b.chunk_count = 0;
  snprintf(b.model, sizeof b.model, "x");
  assert_int_equal(l->ops->asset_done(l, &b, &err), 0);
  assert_int_equal(l->ops->asset_get(l, org, "doc", &v, &err), 0);
  assert_string_equal(v.status, "failed");
  assert_int_equal(v.chunk_count, 7);
  assert_string_equal(v.model, "lexical");
  int deleted = 0;
  assert_int_equal(l->ops->asset_delete(l, org, "doc", &deleted, &err), 0);
  assert_int_equal(deleted, 1);
  assert_int_equal(l->ops->asset_delete(l, org, "doc", &deleted, &err), 0);
  assert_int_equal(deleted, 0);
  assert_int_equal(l->ops->asset_get(l, org, "doc", &v, &err), HX_ENOENT);
  hx_ledger_close(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_race, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
      cmocka_unit_test_setup_teardown(test_assets, setup, teardown),

      cmocka_unit_test_setup_teardown(test_prune, setup, teardown)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
