/*
 * test_crash.c - durability: a torn or corrupt log tail is cut at the last good
 * record (expected sizes computed from the byte layout documented in wal.h and
 * vec.c, not from the parser); a crasher in the spirit of Qdrant's forks a child
 * that upserts and deletes with fsync on and reports each acknowledged write
 * over a pipe, SIGKILLs it at a random moment, reopens and checks: no missing
 * acknowledged point, no phantom, every vector bit-identical, payloads at the
 * right version, count(filter) == scroll(filter), indexes agree (hx_vec_check);
 * and concurrent writers sharing fsyncs (group commit) all survive a reopen.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "unit/vec/vt.h"

enum { DIM = 8, IDS = 400 };

static void vec_for(uint32_t id, uint32_t counter, float *v) {
  for (int j = 0; j < DIM; j++) v[j] = (float)sin(id * 7.0 + counter * 13.0 + j);
}

static void create(hx_vec *db) {
  hx_err e = {0};
  hx_vec_dense_cfg d = {.name = "", .dim = DIM, .distance = HX_VEC_EUCLID};
  assert_int_equal(hx_vec_collection_create(db, "c", &(hx_vec_collection_cfg){.dense = &d, .ndense = 1, .index_threshold = 100}, &e), 0);
  assert_int_equal(hx_vec_index_create(db, "c", "tag", HX_VEC_INDEX_KEYWORD, &e), 0);
}

static int upsert_ids(hx_vec *db, const uint32_t *ids, uint32_t n, uint32_t counter, hx_err *e) {
  hx_vec_point p[16] = {0};
  hx_vec_dense d[16];
  float v[16][DIM];
  static const char *tags[] = {"a", "b", "c"};
  for (uint32_t i = 0; i < n; i++) {
    vec_for(ids[i], counter, v[i]);
    d[i] = (hx_vec_dense){.v = v[i], .dim = DIM};
    p[i] = (hx_vec_point){.id = hx_vec_id_num(ids[i]), .dense = &d[i], .ndense = 1,
                          .payload = json_pack("{s:i,s:s}", "c", (int)counter, "tag", tags[counter % 3])};
  }
  int rc = hx_vec_upsert(db, "c", "t", p, n, e);
  for (uint32_t i = 0; i < n; i++) json_decref(p[i].payload);
  return rc;
}

/* ---- torn / corrupt tail ---- */

static size_t rec_size(uint32_t id, uint32_t counter) {
  char pl[64];
  static const char *tags[] = {"a", "b", "c"};
  int pn = snprintf(pl, sizeof pl, "{\"c\":%u,\"tag\":\"%s\"}", counter, tags[counter % 3]);
  (void)id;
  /* coll "c", tenant "t", u32 n, id(25), u16 nd, u16 vi, u32 dim, f32[8], u16 ns, str payload */
  size_t payload = (4 + 1) + (4 + 1) + 4 + 25 + 2 + 2 + 4 + DIM * 4 + 2 + 4 + (size_t)pn;
  return 20 + payload + 4;
}

static void child_write(const char *dir, int n) {
  hx_vec *db;
  hx_err e = {0};
  if (hx_vec_open(dir, NULL, &db, &e)) _exit(2);
  create(db);
  if (hx_vec_checkpoint(db, &e)) _exit(3);
  for (int i = 0; i < n; i++) {
    uint32_t id = (uint32_t)i;
    if (upsert_ids(db, &id, 1, 1, &e)) _exit(4);
  }
  _exit(0); /* no close: the log is all there is */
}

static void run_child_write(const char *dir, int n) {
  pid_t pid = fork();
  if (!pid) child_write(dir, n);
  int stt;
  waitpid(pid, &stt, 0);
  assert_true(WIFEXITED(stt) && WEXITSTATUS(stt) == 0);
}

static size_t count_points(const char *dir, int expect_max) {
  hx_vec *db;
  hx_err e = {0};
  int rc = hx_vec_open(dir, &(hx_vec_opts){.no_fsync = 1}, &db, &e);
  if (rc) fprintf(stderr, "open: %s\n", e.msg);
  assert_int_equal(rc, 0);
  size_t cnt = 0;
  assert_int_equal(hx_vec_count(db, "c", "t", NULL, 1, &cnt, &e), 0);
  /* the survivors are exactly ids 0..cnt-1 (a prefix of the log) */
  for (int i = 0; i < expect_max; i++) {
    hx_vec_record r;
    hx_vec_id id = hx_vec_id_num((uint64_t)i);
    int g = hx_vec_get(db, "c", "t", &id, 0, &r, &e);
    assert_int_equal(g, (size_t)i < cnt ? 0 : HX_ENOENT);
    if (!g) hx_vec_record_release(&r);
  }
  assert_int_equal(hx_vec_check(db, &e), 0);
  hx_vec_close(db);
  return cnt;
}

static void cp(const char *from, const char *to) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "cp -r '%s/.' '%s/'", from, to);
  assert_int_equal(system(cmd), 0);
}

static void test_torn_tail(void **st) {
  (void)st;
  enum { NREC = 30 };
  char *base = vt_tmpdir();
  run_child_write(base, NREC);
  char wal[512];
  snprintf(wal, sizeof wal, "%s/wal.log", base);
  struct stat sb;
  assert_int_equal(stat(wal, &sb), 0);
  size_t bound[NREC + 1];
  bound[0] = 32;
  for (int i = 0; i < NREC; i++) bound[i + 1] = bound[i] + rec_size((uint32_t)i, 1);
  assert_int_equal((size_t)sb.st_size, bound[NREC]); /* the documented layout, byte for byte */
  vt_seed(11);
  for (int t = 0; t < 12; t++) {
    size_t cut = t == 0 ? bound[NREC] - 1 : t == 1 ? bound[5] : 32 + vt_next() % (bound[NREC] - 32);
    char *d = vt_tmpdir();
    cp(base, d);
    char w2[512];
    snprintf(w2, sizeof w2, "%s/wal.log", d);
    assert_int_equal(truncate(w2, (off_t)cut), 0);
    int full = 0;
    while (full < NREC && bound[full + 1] <= cut) full++;
    assert_int_equal(count_points(d, NREC), (size_t)full);
    vt_rmdir(d);
    free(d);
  }
  /* a flipped byte inside record 7 cuts the log there */
  for (int where = 0; where < 3; where++) {
    char *d = vt_tmpdir();
    cp(base, d);
    char w2[512];
    snprintf(w2, sizeof w2, "%s/wal.log", d);
    int fd = open(w2, O_RDWR);
    off_t off = (off_t)(where == 0 ? bound[7] : where == 1 ? bound[7] + 40 : bound[8] - 2);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
    assert_int_equal(count_points(d, NREC), 7);
    /* the log is usable after the cut: new writes land and survive */
    hx_vec *db;
    hx_err e = {0};
    assert_int_equal(hx_vec_open(d, NULL, &db, &e), 0);
    uint32_t id = 7;
    assert_int_equal(upsert_ids(db, &id, 1, 1, &e), 0);
    hx_vec_close(db);
    assert_int_equal(count_points(d, NREC), 8);
    vt_rmdir(d);
    free(d);
  }
  vt_rmdir(base);
  free(base);
}

/* ---- kill -9 crasher ---- */

typedef struct msg {
  uint32_t kind; /* 1 intent, 2 ack */
  uint32_t op;   /* 1 upsert, 2 delete */
  uint32_t n, counter;
  uint32_t ids[16];
} msg;

static void crasher_child(const char *dir, int fd, uint64_t seed, uint32_t counter0) {
  hx_vec *db;
  hx_err e = {0};
  if (hx_vec_open(dir, &(hx_vec_opts){.wal_max_bytes = 48 << 10}, &db, &e)) _exit(2);
  vt_seed(seed);
  for (uint32_t counter = counter0;; counter++) {
    msg m = {.kind = 1, .op = vt_next() % 4 ? 1 : 2, .n = 1 + (uint32_t)(vt_next() % 16), .counter = counter};
    for (uint32_t i = 0; i < m.n; i++) m.ids[i] = (uint32_t)(vt_next() % IDS);
    if (write(fd, &m, sizeof m) != sizeof m) _exit(3);
    int rc;
    if (m.op == 1) {
      rc = upsert_ids(db, m.ids, m.n, counter, &e);
    } else {
      hx_vec_id ids[16];
      for (uint32_t i = 0; i < m.n; i++) ids[i] = hx_vec_id_num(m.ids[i]);
      size_t del;
      rc = hx_vec_delete(db, "c", "t", ids, m.n, &del, &e);
    }
    if (rc) _exit(4);
    m.kind = 2;
    if (write(fd, &m, sizeof m) != sizeof m) _exit(3);
  }
}

static void apply_model(int32_t *model, const msg *m) {
  for (uint32_t i = 0; i < m->n; i++) model[m->ids[i]] = m->op == 1 ? (int32_t)m->counter : -1;
}

/* Does the database hold exactly state `model`? (vectors bit-identical) */
static int matches(hx_vec *db, const int32_t *model) {
  hx_err e = {0};
  for (uint32_t id = 0; id < IDS; id++) {
    hx_vec_record r;
    hx_vec_id hid = hx_vec_id_num(id);
    int rc = hx_vec_get(db, "c", "t", &hid, HX_VEC_WITH_PAYLOAD | HX_VEC_WITH_VECTORS, &r, &e);
    if (model[id] < 0) {
      if (rc != HX_ENOENT) {
        if (!rc) hx_vec_record_release(&r);
        return 0;
      }
      continue;
    }
    if (rc) return 0;
    float v[DIM];
    vec_for(id, (uint32_t)model[id], v);
    int ok = r.vectors[0] && !memcmp(r.vectors[0], v, sizeof v) &&
             json_integer_value(json_object_get(r.payload, "c")) == model[id];
    hx_vec_record_release(&r);
    if (!ok) return 0;
  }
  return 1;
}

static void test_kill9(void **st) {
  (void)st;
  char *dir = vt_tmpdir();
  hx_vec *db;
  hx_err e = {0};
  assert_int_equal(hx_vec_open(dir, NULL, &db, &e), 0);
  create(db);
  hx_vec_close(db);
  int32_t model[IDS];
  for (int i = 0; i < IDS; i++) model[i] = -1;
  uint32_t counter = 1;
  vt_seed(2024);
  int with_pending = 0;
  for (int round = 0; round < 10; round++) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    uint64_t seed = vt_next();
    pid_t pid = fork();
    if (!pid) {
      close(p[0]);
      crasher_child(dir, p[1], seed, counter);
    }
    close(p[1]);
    /* let it write for a random while, reading acks, then kill -9 */
    long budget_ms = 20 + (long)(vt_next() % 150);
    msg pending = {0}, m;
    int has_pending = 0;
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    for (long waited = 0; waited < budget_ms; waited++) {
      while (poll(&pf, 1, 0) > 0 && read(p[0], &m, sizeof m) == sizeof m) {
        if (m.kind == 1) {
          pending = m;
          has_pending = 1;
        } else {
          apply_model(model, &m);
          has_pending = 0;
          counter = m.counter + 1;
        }
      }
      usleep(1000);
    }
    kill(pid, SIGKILL);
    int stt;
    waitpid(pid, &stt, 0);
    assert_true(WIFSIGNALED(stt)); /* it was still writing, not failing */
    while (read(p[0], &m, sizeof m) == sizeof m) {
      if (m.kind == 1) {
        pending = m;
        has_pending = 1;
      } else {
        apply_model(model, &m);
        has_pending = 0;
        counter = m.counter + 1;
      }
    }
    close(p[0]);
    /* reopen: acknowledged state, or that plus the whole in-flight write */
    int rc = hx_vec_open(dir, NULL, &db, &e);
    if (rc) fprintf(stderr, "reopen: %s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(hx_vec_check(db, &e), 0);
    int ok = matches(db, model);
    if (!ok && has_pending) {
      apply_model(model, &pending);
      counter = pending.counter + 1;
      ok = matches(db, model);
      with_pending++;
    }
    assert_true(ok);
    size_t cnt, live = 0;
    for (int i = 0; i < IDS; i++) live += model[i] >= 0;
    assert_int_equal(hx_vec_count(db, "c", "t", NULL, 1, &cnt, &e), 0);
    assert_int_equal(cnt, live);
    json_t *fj = vt_json("{\"must\":[{\"key\":\"tag\",\"match\":{\"value\":\"b\"}}]}");
    hx_vec_filter *f;
    assert_int_equal(hx_vec_filter_parse(fj, &f, &e), 0);
    hx_vec_record *recs;
    size_t nrec;
    int hn;
    assert_int_equal(hx_vec_count(db, "c", "t", f, 1, &cnt, &e), 0);
    assert_int_equal(hx_vec_scroll(db, "c", "t", NULL, IDS, f, 0, &recs, &nrec, &hn, NULL, &e), 0);
    assert_int_equal(cnt, nrec);
    size_t want = 0;
    for (int i = 0; i < IDS; i++) want += model[i] >= 0 && model[i] % 3 == 1;
    assert_int_equal(cnt, want);
    hx_vec_records_release(recs, nrec);
    free(recs);
    hx_vec_filter_free(f);
    json_decref(fj);
    hx_vec_close(db); /* snapshot; the child's small wal_max_bytes makes it snapshot mid-run too */
  }
  fprintf(stderr, "  10 kills, %d with the in-flight write applied, last counter %u\n", with_pending, counter);
  assert_true(counter > 50);
  vt_rmdir(dir);
  free(dir);
}

/* ---- group commit ---- */

static hx_vec *gdb;
static void *gwriter(void *arg) {
  uint32_t t = (uint32_t)(uintptr_t)arg;
  hx_err e = {0};
  for (uint32_t i = 0; i < 50; i++) {
    uint32_t id = t * 50 + i;
    if (upsert_ids(gdb, &id, 1, 5, &e)) return (void *)1;
  }
  return NULL;
}

static void test_group_commit(void **st) {
  (void)st;
  char *dir = vt_tmpdir();
  hx_err e = {0};
  assert_int_equal(hx_vec_open(dir, NULL, &gdb, &e), 0);
  create(gdb);
  pthread_t th[8];
  for (uintptr_t i = 0; i < 8; i++) pthread_create(&th[i], NULL, gwriter, (void *)i);
  for (int i = 0; i < 8; i++) {
    void *r;
    pthread_join(th[i], &r);
    assert_null(r);
  }
  /* simulate a crash: copy the directory as it is on disk, without closing */
  char *d2 = vt_tmpdir();
  cp(dir, d2);
  hx_vec *db;
  assert_int_equal(hx_vec_open(d2, NULL, &db, &e), 0);
  int32_t model[IDS];
  for (int i = 0; i < IDS; i++) model[i] = i < 400 ? 5 : -1;
  assert_true(matches(db, model));
  hx_vec_close(db);
  hx_vec_close(gdb);
  vt_rmdir(dir);
  vt_rmdir(d2);
  free(dir);
  free(d2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_torn_tail),
      cmocka_unit_test(test_kill9),
      cmocka_unit_test(test_group_commit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
