/*
 * jwks.c - the public keys of a production identity provider (Supabase, or
 * any issuer publishing a JSON Web Key Set), cached by kid.
 *
 * Why a cache with two clocks: keys rotate rarely, so one fetch serves many
 * requests (ttl_sec); a token signed with a key we have not seen yet may
 * mean a rotation, so an unknown kid triggers a refetch - but at most once per
 * refetch_sec, or a stream of tokens with random kids would turn every
 * request into a fetch against the provider. A failed fetch keeps the keys
 * already known (the provider being down must not log everybody out).
 *
 * Only keys that can verify what the configuration pins are kept: RSA of at
 * least 2048 bits (RS256) and EC P-256 (ES256); "use" other than "sig" and an
 * "alg" other than the key type's are skipped. Fetches go through libcurl
 * (http/https only, no redirects, timeout) or read a file; both stop at 1 MiB.
 */
#include "auth/auth.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/log.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JWKS_MAX_BYTES (1 << 20)
#define JWKS_MAX_KEYS 64

typedef struct jwk {
  char kid[128];       /* "" when the key has none */
  hx_jwt_alg alg;      /* HX_JWT_RS256 or HX_JWT_ES256 */
  EVP_PKEY *pkey;
} jwk;

struct hx_jwks {
  char source[512];
  int ttl_sec, refetch_sec, timeout_ms;
  pthread_rwlock_t lock;   /* keys are used under the read lock, replaced under the write lock */
  jwk keys[JWKS_MAX_KEYS];
  size_t n;
  double loaded_at;     /* 0 = never loaded */
  double tried_at;      /* last fetch attempt, successful or not */
  char last_error[512];
};

static void drop_keys(jwk *keys, size_t n) {
  for (size_t i = 0; i < n; i++) EVP_PKEY_free(keys[i].pkey);
}

/* base64url member -> big-endian bytes; -1 when absent or not base64url. */
static long b64_member(json_t *o, const char *name, uint8_t *out, size_t cap) {
  const char *s = json_string_value(json_object_get(o, name));
  if (!s) return -1;
  size_t n = strlen(s);
  if (n > (4 * cap + 2) / 3) return -1;
  return hx_b64url_decode(s, n, out);
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *b) {
  EVP_PKEY *pkey = NULL;
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(b);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
  if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1) EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return pkey;
}

static EVP_PKEY *rsa_key(json_t *o) {
  uint8_t n[1024 + 4], e[16];
  long nl = b64_member(o, "n", n, sizeof n - 4), el = b64_member(o, "e", e, sizeof e - 4);
  if (nl < 256 || el < 1) return NULL;   /* under 2048 bits, or no exponent */
  BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL), *be = BN_bin2bn(e, (int)el, NULL);
  OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
  EVP_PKEY *pkey = NULL;
  if (bn && be && b && BN_num_bits(bn) >= 2048 && OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) &&
      OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be))
    pkey = from_params("RSA", b);
  OSSL_PARAM_BLD_free(b);
  BN_free(bn);
  BN_free(be);
  return pkey;
}

static EVP_PKEY *ec_key(json_t *o) {
  const char *crv = json_string_value(json_object_get(o, "crv"));
  uint8_t pt[1 + 64], x[36], y[36];
  if (!crv || strcmp(crv, "P-256")) return NULL;
  if (b64_member(o, "x", x, 32) != 32 || b64_member(o, "y", y, 32) != 32) return NULL;
  pt[0] = 0x04;   /* uncompressed point */
  memcpy(pt + 1, x, 32);
  memcpy(pt + 33, y, 32);
  OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
  EVP_PKEY *pkey = NULL;
  if (b && OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
      OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt))
    pkey = from_params("EC", b);   /* OpenSSL refuses points not on the curve */
  OSSL_PARAM_BLD_free(b);
  return pkey;
}

int hx_jwks_load_json(hx_jwks *k, const char *doc, size_t len, hx_err *err) {
  json_error_t je;
  json_t *root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &je);
  json_t *arr = json_object_get(root, "keys");
  if (!json_is_array(arr)) {
    json_decref(root);
    return hx_err_set(err, HX_EINVAL, "JWKS is not a JSON object with a \"keys\" array");
  }
  jwk fresh[JWKS_MAX_KEYS];
  size_t n = 0, i;
  json_t *o;
  json_array_foreach(arr, i, o) {
    if (n == JWKS_MAX_KEYS) break;
    const char *kty = json_string_value(json_object_get(o, "kty"));
    const char *use = json_string_value(json_object_get(o, "use"));
    const char *alg = json_string_value(json_object_get(o, "alg"));
    json_t *kid = json_object_get(o, "kid");
    if (!kty || (use && strcmp(use, "sig")) || (kid && !json_is_string(kid))) continue;
    if (kid && json_string_length(kid) >= sizeof fresh[n].kid) continue;
    jwk *w = &fresh[n];
    if (!strcmp(kty, "RSA") && (!alg || !strcmp(alg, "RS256"))) {
      w->alg = HX_JWT_RS256;
      w->pkey = rsa_key(o);
    } else if (!strcmp(kty, "EC") && (!alg || !strcmp(alg, "ES256"))) {
      w->alg = HX_JWT_ES256;
      w->pkey = ec_key(o);
    } else {
      continue;
    }
    if (!w->pkey) continue;
    snprintf(w->kid, sizeof w->kid, "%s", kid ? json_string_value(kid) : "");
    n++;
  }
  json_decref(root);
  if (!n) return hx_err_set(err, HX_EINVAL, "JWKS has no usable signing key (RSA >= 2048 bits or EC P-256)");
  pthread_rwlock_wrlock(&k->lock);
  drop_keys(k->keys, k->n);
  memcpy(k->keys, fresh, n * sizeof fresh[0]);
  k->n = n;
  k->loaded_at = hx_now();
  pthread_rwlock_unlock(&k->lock);
  return 0;
}

static size_t on_data(char *p, size_t sz, size_t nm, void *ud) {
  hx_buf *b = ud;
  return hx_buf_add(b, p, sz * nm) ? 0 : sz * nm;   /* past the cap: abort the transfer */
}

static int fetch(const hx_jwks *k, hx_buf *b, hx_err *err) {
  const char *src = k->source;
  if (!strncmp(src, "http://", 7) || !strncmp(src, "https://", 8)) {
    CURL *c = curl_easy_init();
    if (!c) return hx_err_set(err, HX_ENOMEM, "curl_easy_init failed");
    curl_easy_setopt(c, CURLOPT_URL, src);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)k->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)k->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    CURLcode cc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) return hx_err_set(err, HX_EUNAVAIL, "fetching %s failed: %s", src, curl_easy_strerror(cc));
    if (code != 200) return hx_err_set(err, HX_EUNAVAIL, "fetching %s answered HTTP %ld", src, code);
    return 0;
  }
  const char *path = !strncmp(src, "file://", 7) ? src + 7 : src;
  FILE *f = fopen(path, "rb");
  if (!f) return hx_err_set(err, HX_EUNAVAIL, "cannot read JWKS file %s", path);
  char chunk[8192];
  size_t got;
  int rc = 0;
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
    if (hx_buf_add(b, chunk, got)) {
      rc = hx_err_set(err, HX_EUNAVAIL, "JWKS file %s is larger than %d bytes", path, JWKS_MAX_BYTES);
      break;
    }
  fclose(f);
  return rc;
}

int hx_jwks_refresh(hx_jwks *k, hx_err *err) {
  hx_buf b;
  hx_buf_init(&b, JWKS_MAX_BYTES);
  pthread_rwlock_wrlock(&k->lock);
  k->tried_at = hx_now();
  pthread_rwlock_unlock(&k->lock);
  hx_err e = {0};
  int rc = fetch(k, &b, &e);
  if (!rc && (rc = hx_jwks_load_json(k, b.data ? b.data : "", b.len, &e)) != 0) e.code = HX_EUNAVAIL;
  hx_buf_release(&b);
  if (rc) {
    pthread_rwlock_wrlock(&k->lock);
    snprintf(k->last_error, sizeof k->last_error, "%s", e.msg);
    pthread_rwlock_unlock(&k->lock);
    hx_log(HX_LOG_WARN, "jwks_fetch_failed", json_pack("{s:s,s:s}", "source", k->source, "error", e.msg));
    if (err) *err = e;
    return HX_EUNAVAIL;
  }
  return 0;
}

int hx_jwks_new(const char *source, int ttl_sec, int refetch_sec, int timeout_ms, hx_jwks **out, hx_err *err) {
  hx_jwks *k = calloc(1, sizeof *k);
  if (!k) return hx_err_set(err, HX_ENOMEM, "out of memory");
  if (strlen(source) >= sizeof k->source) {
    free(k);
    return hx_err_set(err, HX_ECONFIG, "JWKS source is too long");
  }
  strcpy(k->source, source);
  k->ttl_sec = ttl_sec;
  k->refetch_sec = refetch_sec;
  k->timeout_ms = timeout_ms;
  pthread_rwlock_init(&k->lock, NULL);
  *out = k;
  return 0;
}

void hx_jwks_free(hx_jwks *k) {
  if (!k) return;
  drop_keys(k->keys, k->n);
  pthread_rwlock_destroy(&k->lock);
  free(k);
}

/* The key for kid among the cached ones (borrowed: caller holds the lock),
 * or NULL. With no kid, the only key of the algorithm's type; none when there
 * are several. */
static const jwk *lookup(hx_jwks *k, const char *kid, hx_jwt_alg alg, int *ambiguous) {
  const jwk *found = NULL;
  int hits = 0;
  for (size_t i = 0; i < k->n; i++) {
    if (k->keys[i].alg != alg || (kid && strcmp(kid, k->keys[i].kid))) continue;
    if (!hits++) found = &k->keys[i];
  }
  *ambiguous = hits > 1 && !kid;
  return *ambiguous ? NULL : found;
}

/* ES256 signatures are r||s (32 bytes each); OpenSSL verifies DER. */
static int es256_der(const uint8_t *sig, uint8_t **der) {
  ECDSA_SIG *es = ECDSA_SIG_new();
  BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
  int n = -1;
  if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
    r = s = NULL;   /* owned by es now */
    n = i2d_ECDSA_SIG(es, der);
  }
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(es);
  return n;
}

static int verify_sig(EVP_PKEY *pkey, hx_jwt_alg alg, const hx_jwks_sig *v) {
  const uint8_t *sig = v->sig;
  size_t slen = v->sig_len;
  uint8_t *der = NULL;
  int ok = 0;
  if (alg == HX_JWT_ES256) {
    if (slen != 64) return 0;
    int n = es256_der(sig, &der);
    if (n <= 0) return 0;
    sig = der;
    slen = (size_t)n;
  } else if (slen != (size_t)EVP_PKEY_get_size(pkey)) {
    return 0;
  }
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1)
    ok = EVP_DigestVerify(ctx, sig, slen, v->msg, v->msg_len) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

/* Find the key (refetching when stale or unknown, rate-limited) and, when v
 * is given, verify v with it under the read lock. */
static int with_key(hx_jwks *k, const char *kid, hx_jwt_alg alg, const hx_jwks_sig *v, hx_err *err) {
  int ambiguous = 0, ok = 0;
  double now = hx_now();
  pthread_rwlock_rdlock(&k->lock);
  int stale = !k->loaded_at || now - k->loaded_at >= k->ttl_sec;
  const jwk *w = stale ? NULL : lookup(k, kid, alg, &ambiguous);
  if (w && v) ok = verify_sig(w->pkey, alg, v);
  pthread_rwlock_unlock(&k->lock);
  if (!w && !ambiguous) {
    /* refetch when stale or the kid is new - but not more often than refetch_sec;
     * claimed under the lock so concurrent requests do not all fetch */
    pthread_rwlock_wrlock(&k->lock);
    int refetch = !k->tried_at || now - k->tried_at >= k->refetch_sec;
    if (refetch) k->tried_at = now;
    pthread_rwlock_unlock(&k->lock);
    if (refetch) hx_jwks_refresh(k, NULL);
  }
  char why[512];
  int none = 0;
  if (!w) {
    pthread_rwlock_rdlock(&k->lock);
    w = lookup(k, kid, alg, &ambiguous);
    if (w && v) ok = verify_sig(w->pkey, alg, v);
    none = k->n == 0;
    snprintf(why, sizeof why, "%s", k->last_error);
    pthread_rwlock_unlock(&k->lock);
  }
  if (w) return !v || ok ? 0 : hx_err_setst(err, HX_EUNAUTH, 401, "Invalid token: Signature verification failed");
  if (none) return hx_err_setst(err, HX_EUNAVAIL, 503, "Authentication keys are unavailable: %s", why);
  if (ambiguous) return hx_err_setst(err, HX_EUNAUTH, 401, "Invalid token: Token header has no kid");
  if (!kid) return hx_err_setst(err, HX_EUNAUTH, 401, "Invalid token: Unable to find a signing key for the token");
  return hx_err_setst(err, HX_EUNAUTH, 401, "Invalid token: Unable to find a signing key that matches: \"%.128s\"", kid);
}

int hx_jwks_find(hx_jwks *k, const char *kid, hx_jwt_alg alg, hx_err *err) { return with_key(k, kid, alg, NULL, err); }

int hx_jwks_verify(hx_jwks *k, const char *kid, hx_jwt_alg alg, const hx_jwks_sig *v, hx_err *err) {
  return with_key(k, kid, alg, v, err);
}
