/* The in-process queue: FIFO order, delayed messages held back, shutdown wakes poppers. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "queue/queue.h"
#include "util/log.h"

static hx_job_msg msg(const char *id, double not_before) {
  hx_job_msg m = {0};
  snprintf(m.job_id, sizeof m.job_id, "%s", id);
  m.not_before = not_before;
  m.payload = json_object();
  return m;
}

static void test_fifo_and_delay(void **st) {
  hx_queue *q;
  hx_err err = {0};
  assert_int_equal(hx_queue_open_inproc(&q, &err), 0);
  double now = hx_now();
  hx_job_msg m;
  const char *names[3] = {"late", "a", "b"};
  for (int i = 0; i < 3; i++) {
    m = msg(names[i], i == 0 ? now + 0.3 : 0);
    assert_int_equal(q->ops->push(q, &m, &err), 0);
    hx_job_msg_release(&m); /* the queue keeps its own reference */
  }
  assert_int_equal(q->ops->depth(q), 3);
  hx_job_msg out[8];
  size_t n = q->ops->pop(q, out, 8, 1000);
  assert_int_equal(n, 2);
  assert_string_equal(out[0].job_id, "a");
  assert_string_equal(out[1].job_id, "b");
  for (size_t i = 0; i < n; i++) hx_job_msg_release(&out[i]);
  n = q->ops->pop(q, out, 8, 50);  /* the delayed one is not due yet */
  assert_int_equal(n, 0);
  n = q->ops->pop(q, out, 8, 2000);
  assert_int_equal(n, 1);
  assert_string_equal(out[0].job_id, "late");
  assert_true(hx_now() >= now + 0.3);
  hx_job_msg_release(&out[0]);
  q->ops->close(q);
}

static void *popper(void *p) {
  hx_queue *q = p;
  hx_job_msg out[1];
  return (void *)(uintptr_t)q->ops->pop(q, out, 1, 60000);
}

static void test_shutdown_wakes(void **st) {
  hx_queue *q;
  hx_err err = {0};
  assert_int_equal(hx_queue_open_inproc(&q, &err), 0);
  pthread_t t;
  pthread_create(&t, NULL, popper, q);
  q->ops->shutdown(q);
  void *r;
  pthread_join(t, &r);
  assert_int_equal((uintptr_t)r, 0);
  q->ops->close(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_fifo_and_delay), cmocka_unit_test(test_shutdown_wakes)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
