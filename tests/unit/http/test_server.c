/* test_server.c - the HTTP layer's handler pool: a blocked handler does not
 * stall other connections, requests are handled first come first served
 * across connections, and stopping answers every accepted request. Plain
 * sockets on 127.0.0.1, an ephemeral port. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "http/server.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int blocked, released, order[16], norder;

static void h_block(void *app, hx_req *req, hx_resp *resp) {
  (void)app;
  (void)req;
  pthread_mutex_lock(&mu);
  blocked = 1;
  pthread_cond_broadcast(&cv);
  while (!released) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  hx_resp_json(resp, 200, json_pack("{s:s}", "slow", "done"));
}

static void h_order(void *app, hx_req *req, hx_resp *resp) {
  (void)app;
  pthread_mutex_lock(&mu);
  if (norder < 16) order[norder++] = atoi(req->params[0]);
  pthread_mutex_unlock(&mu);
  hx_resp_json(resp, 200, json_pack("{s:s}", "n", req->params[0]));
}

static const hx_route routes[] = {
    {"GET", "/block", h_block, NULL},
    {"GET", "/order/{n}", h_order, NULL},
    {NULL, NULL, NULL, NULL},
};

static hx_http *start(int threads) {
  pthread_mutex_lock(&mu);
  blocked = released = norder = 0;
  pthread_mutex_unlock(&mu);
  hx_http_opts o = {"127.0.0.1", 0, threads, 1 << 20, routes, NULL, NULL};
  hx_http *h = NULL;
  hx_err err = {0};
  assert_int_equal(hx_http_start(&o, &h, &err), 0);
  return h;
}

static int send_get(hx_http *h, const char *path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)hx_http_port(h))};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  char req[256];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
  assert_int_equal(write(fd, req, (size_t)n), n);
  return fd;
}

/* The whole answer (the server closes: Connection: close); its status line
 * must be 200 and its body hold want. */
static void expect_200(int fd, const char *want) {
  char buf[4096];
  size_t len = 0;
  ssize_t r;
  while (len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)r;
  buf[len] = '\0';
  close(fd);
  if (strncmp(buf, "HTTP/1.1 200", 12) != 0 || !strstr(buf, want)) fail_msg("unexpected answer: %s", buf);
}

static void wait_blocked(void) {
  pthread_mutex_lock(&mu);
  while (!blocked) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

static void release(void) {
  pthread_mutex_lock(&mu);
  released = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static void wait_backlog(hx_http *h, size_t n) {
  for (size_t q = n + 1; q != n; usleep(1000)) hx_http_load(h, &q, NULL);
}

static void test_blocked_handler_does_not_stall(void **st) {
  (void)st;
  hx_http *h = start(2);
  int slow = send_get(h, "/block");
  wait_blocked();
  expect_200(send_get(h, "/order/1"), "\"n\":\"1\"");   /* answered while /block holds a handler */
  release();
  expect_200(slow, "\"slow\":\"done\"");
  hx_http_stop(h);
}

static void test_first_come_first_served(void **st) {
  (void)st;
  hx_http *h = start(1);
  int slow = send_get(h, "/block"), fds[6];
  wait_blocked();
  /* six connections queue up behind the blocked handler, one after another */
  for (int i = 0; i < 6; i++) {
    char path[32];
    snprintf(path, sizeof path, "/order/%d", i);
    fds[i] = send_get(h, path);
    wait_backlog(h, (size_t)i + 1);
  }
  release();
  expect_200(slow, "done");
  for (int i = 0; i < 6; i++) expect_200(fds[i], "\"n\"");
  assert_int_equal(norder, 6);
  for (int i = 0; i < 6; i++) assert_int_equal(order[i], i);
  hx_http_stop(h);
}

static void *stop_thread(void *h) {
  hx_http_stop(h);
  return NULL;
}

static void test_stop_answers_accepted_requests(void **st) {
  (void)st;
  hx_http *h = start(1);
  int slow = send_get(h, "/block"), a, b;
  wait_blocked();
  a = send_get(h, "/order/7");
  wait_backlog(h, 1);
  b = send_get(h, "/order/8");
  wait_backlog(h, 2);
  pthread_t t;
  pthread_create(&t, NULL, stop_thread, h);   /* waits for the blocked handler */
  release();
  expect_200(slow, "done");
  expect_200(a, "\"n\":\"7\"");
  expect_200(b, "\"n\":\"8\"");
  pthread_join(t, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_blocked_handler_does_not_stall),
                                     cmocka_unit_test(test_first_come_first_served),
                                     cmocka_unit_test(test_stop_answers_accepted_requests)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
