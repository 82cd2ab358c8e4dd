/* The verified-token cache of hx_auth_check (auth.c): a token that passed is
 * admitted again from the cache (shown by changing the secret underneath it),
 * a token that differs in one byte is verified afresh, hundreds of tokens
 * sharing the table's slots each keep their own principal, and a cached token
 * is refused once its exp has passed. Tokens are signed here with OpenSSL's
 * HMAC, not with the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <math.h>
#include <openssl/evp.h>

#include "auth/auth.h"
#include "util/hash.h"
#include "util/log.h"

static void b64(const void *p, size_t n, char *out) { out[hx_b64url_encode(p, n, out)] = '\0'; }

/* "Bearer <HS256 token>" for org 00000000-0000-4000-8000-<n as 12 hex digits>. */
static void header_for(char *out, size_t cap, const char *secret, unsigned n, double exp) {
  char claims[256], h[64], c[512], sig64[64], msg[600];
  snprintf(claims, sizeof claims, "{\"sub\":\"user-%u\",\"org_id\":\"00000000-0000-4000-8000-%012x\",\"exp\":%.0f}", n, n,
           exp);
  b64("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27, h);
  b64(claims, strlen(claims), c);
  snprintf(msg, sizeof msg, "%s.%s", h, c);
  unsigned char sig[32];
  size_t sl = 0;
  assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, strlen(secret), (const unsigned char *)msg,
                            strlen(msg), sig, sizeof sig, &sl));
  assert_int_equal(sl, 32);
  b64(sig, sl, sig64);
  snprintf(out, cap, "Bearer %s.%s", msg, sig64);
}

static void expect_org(const hx_auth_cfg *a, const char *header, unsigned n) {
  hx_principal who;
  hx_err err = {0};
  assert_int_equal(hx_auth_check(a, header, &who, &err), 0);
  char org[40];
  snprintf(org, sizeof org, "00000000-0000-4000-8000-%012x", n);
  assert_string_equal(who.org_id, org);
  char user[32];
  snprintf(user, sizeof user, "user-%u", n);
  assert_string_equal(who.user_id, user);
}

/* Each test's state: a dev configuration and the auth set up from it. */
typedef struct fixture {
  hx_config c;
  hx_auth_cfg a;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  strcpy(f->c.auth_provider, "dev");
  strcpy(f->c.dev_jwt_secret, "first-secret");
  hx_err err = {0};
  assert_int_equal(hx_auth_init(&f->a, &f->c, &err), 0);
  assert_non_null(f->a.cache);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  hx_auth_release(&f->a);
  free(f);
  return 0;
}

static void test_hit_and_miss(void **state) {
  hx_auth_cfg *a = &((fixture *)*state)->a;
  char h1[1024], h2[1024];
  header_for(h1, sizeof h1, "first-secret", 1, hx_now() + 3600);
  expect_org(a, h1, 1);
  /* the same bytes are admitted from the cache: the secret is no longer asked */
  a->hs256_secret = "second-secret";
  expect_org(a, h1, 1);
  /* a token not seen yet is verified, and fails under the new secret */
  header_for(h2, sizeof h2, "first-secret", 2, hx_now() + 3600);
  hx_principal who;
  hx_err err = {0};
  assert_int_equal(hx_auth_check(a, h2, &who, &err), HX_EUNAUTH);
  assert_string_equal(err.msg, "Invalid token: Signature verification failed");
  /* one changed byte of the cached token is a different token */
  a->hs256_secret = "first-secret";
  size_t n = strlen(h1);
  h1[n - 2] = h1[n - 2] == 'A' ? 'B' : 'A';
  assert_int_equal(hx_auth_check(a, h1, &who, &err), HX_EUNAUTH);
}

static void test_many_tokens(void **state) {
  hx_auth_cfg *a = &((fixture *)*state)->a;
  enum { N = 600 };
  static char h[N][512];
  for (unsigned i = 0; i < N; i++) header_for(h[i], sizeof h[i], "first-secret", i, hx_now() + 3600);
  for (int round = 0; round < 3; round++)
    for (unsigned i = 0; i < N; i++) {
      unsigned k = (i * 7919u + (unsigned)round * 31u) % N;
      expect_org(a, h[k], k);
    }
}

static void test_expiry(void **state) {
  hx_auth_cfg *a = &((fixture *)*state)->a;
  double exp = floor(hx_now()) + 2;
  char h[1024];
  header_for(h, sizeof h, "first-secret", 7, exp);
  expect_org(a, h, 7);
  expect_org(a, h, 7);
  while (floor(hx_now()) < exp) usleep(50000);
  hx_principal who;
  hx_err err = {0};
  assert_int_equal(hx_auth_check(a, h, &who, &err), HX_EUNAUTH);
  assert_string_equal(err.msg, "Token has expired");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_hit_and_miss, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_tokens, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
