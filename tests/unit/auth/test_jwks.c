/* The JWKS cache and key parsing (jwks.c) and RS256/ES256 verification
 * (jwt.c): which keys are kept, the TTL and the rate-limited refetch on an
 * unknown kid, a failed fetch keeping the known keys, and tokens built here
 * with OpenSSL's signing side (keys generated at run time). The attack list
 * against a running server is tests/integration/test_auth_jwt.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "auth/auth.h"
#include "util/hash.h"

static char path[64];

static void write_file(const char *doc) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(doc, f);
  fclose(f);
}

static char *b64(const uint8_t *p, size_t n) {
  char *s = malloc(4 * n / 3 + 8);
  s[hx_b64url_encode(p, n, s)] = '\0';
  return s;
}

static char *b64_bn(EVP_PKEY *k, const char *name, size_t pad) {
  BIGNUM *bn = NULL;
  assert_int_equal(EVP_PKEY_get_bn_param(k, name, &bn), 1);
  uint8_t buf[1024];
  int n = pad ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
  BN_free(bn);
  return b64(buf, (size_t)n);
}

/* {"kty":...,"kid":kid,...} of k's public half; caller frees. */
static char *jwk_of(EVP_PKEY *k, const char *kid, const char *extra) {
  char *out = malloc(2048), *a, *b;
  if (EVP_PKEY_is_a(k, "RSA")) {
    a = b64_bn(k, OSSL_PKEY_PARAM_RSA_N, 0);
    b = b64_bn(k, OSSL_PKEY_PARAM_RSA_E, 0);
    snprintf(out, 2048, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"%s}", kid, a, b, extra);
  } else {
    a = b64_bn(k, OSSL_PKEY_PARAM_EC_PUB_X, 32);
    b = b64_bn(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    snprintf(out, 2048, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}", kid, a, b, extra);
  }
  free(a);
  free(b);
  return out;
}

/* A compact JWS of claims signed by k; caller frees. */
static char *sign(EVP_PKEY *k, const char *alg, const char *kid, const char *claims) {
  char hdr[256];
  snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"kid\":\"%s\"}", alg, kid);
  char *h = b64((const uint8_t *)hdr, strlen(hdr)), *c = b64((const uint8_t *)claims, strlen(claims));
  char *out = malloc(strlen(h) + strlen(c) + 1024);
  sprintf(out, "%s.%s", h, c);
  free(h);
  free(c);
  uint8_t sig[600];
  size_t sl = sizeof sig;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
  assert_int_equal(EVP_DigestSign(ctx, sig, &sl, (const uint8_t *)out, strlen(out)), 1);
  EVP_MD_CTX_free(ctx);
  if (!strcmp(alg, "ES256")) {   /* DER -> r||s */
    const uint8_t *p = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);
    assert_non_null(es);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
    ECDSA_SIG_free(es);
    sl = 64;
  }
  char *s = b64(sig, sl);
  strcat(out, ".");
  strcat(out, s);
  free(s);
  return out;
}

static EVP_PKEY *rsa, *rsa_small, *ec;

static int setup(void **st) {
  snprintf(path, sizeof path, "/tmp/hx-jwks-%d.json", (int)getpid());
  rsa = EVP_RSA_gen(2048);
  rsa_small = EVP_RSA_gen(1024);
  ec = EVP_EC_gen("P-256");
  return rsa && rsa_small && ec ? 0 : -1;
}

static int teardown(void **st) {
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(rsa_small);
  EVP_PKEY_free(ec);
  unlink(path);
  return 0;
}

static int verify(hx_jwks *k, hx_jwt_alg alg, const char *tok, hx_err *err) {
  hx_auth_cfg cfg = {.alg = alg, .jwks = k};
  json_t *claims = NULL;
  memset(err, 0, sizeof *err);
  int rc = hx_jwt_verify(&cfg, tok, 1e9, &claims, err);
  json_decref(claims);
  return rc;
}

static void test_keys_kept(void **st) {
  char *good = jwk_of(rsa, "r", ""), *small = jwk_of(rsa_small, "small", ""), *enc = jwk_of(rsa, "enc", ",\"use\":\"enc\"");
  char *wrong_alg = jwk_of(rsa, "ps", ",\"alg\":\"PS256\""), *e = jwk_of(ec, "e", "");
  char doc[12000];
  snprintf(doc, sizeof doc,
           "{\"keys\":[%s,%s,%s,%s,%s,{\"kty\":\"oct\",\"k\":\"AAAA\",\"kid\":\"oct\"},"
           "{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"p384\",\"x\":\"AA\",\"y\":\"AA\"},"
           "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"offcurve\",\"x\":\"%s\",\"y\":\"%s\"},"
           "{\"kty\":\"RSA\",\"kid\":7,\"n\":\"AQAB\",\"e\":\"AQAB\"},\"junk\",17]}",
           good, small, enc, wrong_alg, e, "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
           "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  hx_jwks *k = NULL;
  hx_err err = {0};
  assert_int_equal(hx_jwks_new(path, 600, 3600, 1000, &k, &err), 0);
  assert_int_equal(hx_jwks_load_json(k, doc, strlen(doc), &err), 0);
  assert_int_equal(hx_jwks_find(k, "r", HX_JWT_RS256, &err), 0);
  assert_int_equal(hx_jwks_find(k, "e", HX_JWT_ES256, &err), 0);
  assert_int_equal(hx_jwks_find(k, NULL, HX_JWT_ES256, &err), 0);   /* the only EC key */
  const char *gone[] = {"small", "enc", "ps", "oct", "p384", "offcurve"};
  for (size_t i = 0; i < sizeof gone / sizeof *gone; i++) {
    assert_int_equal(hx_jwks_find(k, gone[i], HX_JWT_RS256, &err), HX_EUNAUTH);
    assert_int_equal(hx_jwks_find(k, gone[i], HX_JWT_ES256, &err), HX_EUNAUTH);
  }
  assert_int_equal(hx_jwks_find(k, "e", HX_JWT_RS256, &err), HX_EUNAUTH);   /* an EC key never verifies RS256 */
  assert_string_equal(err.msg, "Invalid token: Unable to find a signing key that matches: \"e\"");
  assert_int_equal(err.status, 401);
  const char *bad[] = {"", "[]", "{\"keys\":{}}", "{\"keys\":[]}", "{\"keys\":[{\"kty\":\"oct\"}]}", "{\"keys\":[1]} x"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(hx_jwks_load_json(k, bad[i], strlen(bad[i]), &err), HX_EINVAL);
  assert_int_equal(hx_jwks_find(k, "r", HX_JWT_RS256, &err), 0);   /* a bad document keeps the keys */
  hx_jwks_free(k);
  free(good), free(small), free(enc), free(wrong_alg), free(e);
}

static void test_verify(void **st) {
  char *jr = jwk_of(rsa, "r", ""), *je = jwk_of(ec, "e", ""), doc[8000];
  snprintf(doc, sizeof doc, "{\"keys\":[%s,%s]}", jr, je);
  write_file(doc);
  hx_jwks *k = NULL;
  hx_err err = {0};
  assert_int_equal(hx_jwks_new(path, 600, 3600, 1000, &k, &err), 0);
  assert_int_equal(hx_jwks_refresh(k, &err), 0);
  const char *claims = "{\"sub\":\"u\",\"exp\":2000000000}";
  char *t = sign(rsa, "RS256", "r", claims);
  assert_int_equal(verify(k, HX_JWT_RS256, t, &err), 0);
  assert_int_equal(verify(k, HX_JWT_ES256, t, &err), HX_EUNAUTH);
  assert_string_equal(err.msg, "Invalid token: The specified alg value is not allowed");
  t[strlen(t) - 2] ^= 1;   /* one signature bit */
  assert_int_equal(verify(k, HX_JWT_RS256, t, &err), HX_EUNAUTH);
  free(t);
  t = sign(ec, "ES256", "e", claims);
  assert_int_equal(verify(k, HX_JWT_ES256, t, &err), 0);
  free(t);
  t = sign(ec, "ES256", "r", claims);   /* EC signature under the RSA key's kid */
  assert_int_equal(verify(k, HX_JWT_ES256, t, &err), HX_EUNAUTH);
  free(t);
  t = sign(rsa, "RS256", "r", "{\"sub\":\"u\",\"exp\":999999000}");
  assert_int_equal(verify(k, HX_JWT_RS256, t, &err), HX_EUNAUTH);
  assert_string_equal(err.msg, "Token has expired");
  free(t);
  hx_jwks_free(k);
  free(jr), free(je);
}

static void test_refetch(void **st) {
  char *j1 = jwk_of(rsa, "one", ""), *j2 = jwk_of(rsa, "two", ""), doc[8000];
  snprintf(doc, sizeof doc, "{\"keys\":[%s]}", j1);
  write_file(doc);
  hx_jwks *k = NULL;
  hx_err err = {0};
  /* refetch interval 1 hour: a new kid is not looked for again */
  assert_int_equal(hx_jwks_new(path, 600, 3600, 1000, &k, &err), 0);
  assert_int_equal(hx_jwks_refresh(k, &err), 0);
  snprintf(doc, sizeof doc, "{\"keys\":[%s,%s]}", j1, j2);
  write_file(doc);
  assert_int_equal(hx_jwks_find(k, "two", HX_JWT_RS256, &err), HX_EUNAUTH);
  hx_jwks_free(k);
  /* interval 0: an unknown kid refetches and finds the rotated key */
  snprintf(doc, sizeof doc, "{\"keys\":[%s]}", j1);
  write_file(doc);
  assert_int_equal(hx_jwks_new(path, 600, 0, 1000, &k, &err), 0);
  assert_int_equal(hx_jwks_refresh(k, &err), 0);
  snprintf(doc, sizeof doc, "{\"keys\":[%s,%s]}", j1, j2);
  write_file(doc);
  assert_int_equal(hx_jwks_find(k, "two", HX_JWT_RS256, &err), 0);
  /* the source breaks: known keys stay usable */
  write_file("not json");
  assert_int_equal(hx_jwks_find(k, "three", HX_JWT_RS256, &err), HX_EUNAUTH);
  assert_int_equal(hx_jwks_find(k, "one", HX_JWT_RS256, &err), 0);
  hx_jwks_free(k);
  /* never loaded and unreachable: 503, not 401 */
  assert_int_equal(hx_jwks_new("/nonexistent/jwks.json", 600, 0, 1000, &k, &err), 0);
  assert_int_equal(hx_jwks_find(k, "one", HX_JWT_RS256, &err), HX_EUNAVAIL);
  assert_int_equal(err.status, 503);
  hx_jwks_free(k);
  free(j1), free(j2);
}

/* Threads verifying while others force refetches (unknown kids, interval 0):
 * under TSan this checks the cache's locking and the key references. */
typedef struct {
  hx_jwks *k;
  const char *tok;
  int ok;
} race_arg;

static void *racer(void *p) {
  race_arg *a = p;
  for (int i = 0; i < 200; i++) {
    hx_err err = {0};
    if (i % 3 == 0) {
      hx_jwks_find(a->k, "unknown", HX_JWT_RS256, &err);   /* refetches */
    } else if (verify(a->k, HX_JWT_RS256, a->tok, &err) == 0) {
      a->ok++;
    }
  }
  return NULL;
}

static void test_concurrent(void **st) {
  char *j1 = jwk_of(rsa, "one", ""), doc[4000];
  snprintf(doc, sizeof doc, "{\"keys\":[%s]}", j1);
  write_file(doc);
  hx_jwks *k = NULL;
  hx_err err = {0};
  assert_int_equal(hx_jwks_new(path, 600, 0, 1000, &k, &err), 0);
  assert_int_equal(hx_jwks_refresh(k, &err), 0);
  char *t = sign(rsa, "RS256", "one", "{\"sub\":\"u\",\"exp\":2000000000}");
  pthread_t th[4];
  race_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (race_arg){k, t, 0};
    pthread_create(&th[i], NULL, racer, &args[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].ok, 133);   /* every verification passed across the reloads */
  }
  hx_jwks_free(k);
  free(t);
  free(j1);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_keys_kept), cmocka_unit_test(test_verify),
                                     cmocka_unit_test(test_refetch), cmocka_unit_test(test_concurrent)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
