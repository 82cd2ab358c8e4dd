/*
 * jwt.c - compact JWS parsing, verification (HS256 with the dev secret;
 * RS256 / ES256 with a JWKS key) and dev-token minting. Messages follow
 * PyJWT's, which the original service passed through as
 * "Invalid token: <message>".
 *
 * The header's alg must equal the configured one exactly; it never selects
 * the verification. So "none", and HS256 signed with the public key's bytes
 * against an RS256 configuration, are refused before any key is touched.
 */
#include "auth/auth.h"
#include "util/hash.h"
#include "util/log.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TOKEN 16384
#define MAX_SIG_B64 1400   /* an RSA-8192 signature; anything longer is not one */

static const char *const alg_names[] = {"HS256", "RS256", "ES256"};

static int invalid(hx_err *err, const char *why) {
  return hx_err_setst(err, HX_EUNAUTH, 401, "Invalid token: %s", why);
}

static json_t *decode_part(const char *p, size_t n) {
  uint8_t *raw = malloc(n + 4);
  if (!raw) return NULL;
  long len = hx_b64url_decode(p, n, raw);
  json_t *j = NULL;
  if (len >= 0) j = json_loadb((const char *)raw, (size_t)len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
  free(raw);
  return j;
}

static int b64_ok(const char *p, size_t n) {
  uint8_t *raw = malloc(n + 4);
  long len = raw ? hx_b64url_decode(p, n, raw) : -1;
  free(raw);
  return len >= 0;
}

/* A numeric date claim: absent is fine, present must be a number. */
static int num_claim(json_t *claims, const char *name, double *v, int *present) {
  json_t *x = json_object_get(claims, name);
  *present = x != NULL;
  if (!x) return 0;
  if (!json_is_integer(x) && !json_is_real(x)) return -1;
  *v = json_number_value(x);
  return 0;
}

/* 0 when the signature over token[0..signed_len) verifies; err filled otherwise. */
static int check_signature(const hx_auth_cfg *cfg, json_t *hdr, const char *token, size_t signed_len,
                           const char *sig_b64, size_t sn, hx_err *err) {
  uint8_t sig[MAX_SIG_B64];
  long slen = sn > MAX_SIG_B64 ? -1 : hx_b64url_decode(sig_b64, sn, sig);
  if (cfg->alg == HX_JWT_HS256) {
    uint8_t mac[32];
    if (!cfg->hs256_secret) return invalid(err, "Signature verification failed");
    hx_hmac_sha256(cfg->hs256_secret, strlen(cfg->hs256_secret), token, signed_len, mac);
    if (slen != 32 || hx_ct_memcmp(mac, sig, 32) != 0) return invalid(err, "Signature verification failed");
    return 0;
  }
  json_t *kid = json_object_get(hdr, "kid");
  if (kid && !json_is_string(kid)) return invalid(err, "Key ID header parameter (kid) must be a string");
  if (!cfg->jwks) return invalid(err, "Signature verification failed");
  if (slen <= 0) return invalid(err, "Signature verification failed");
  hx_jwks_sig v = {token, signed_len, sig, (size_t)slen};
  return hx_jwks_verify(cfg->jwks, json_string_value(kid), cfg->alg, &v, err);
}

int hx_jwt_verify(const hx_auth_cfg *cfg, const char *token, double now, json_t **claims, hx_err *err) {
  json_t *hdr = NULL, *body = NULL;
  int rc;
  *claims = NULL;
  size_t tlen = strlen(token);
  if (tlen > MAX_TOKEN) return invalid(err, "Token is too large");
  const char *d1 = strchr(token, '.');
  const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
  if (!d1 || !d2 || strchr(d2 + 1, '.')) return invalid(err, "Not enough segments");
  size_t hn = (size_t)(d1 - token), pn = (size_t)(d2 - d1 - 1), sn = tlen - (size_t)(d2 + 1 - token);

  if (!b64_ok(token, hn)) return invalid(err, "Invalid header padding");
  hdr = decode_part(token, hn);
  if (!hdr) { rc = invalid(err, "Invalid header string: not valid JSON"); goto out; }
  if (!json_is_object(hdr)) { rc = invalid(err, "Invalid header string: must be a json object"); goto out; }
  if (!b64_ok(d1 + 1, pn)) { rc = invalid(err, "Invalid payload padding"); goto out; }
  if (!b64_ok(d2 + 1, sn)) { rc = invalid(err, "Invalid crypto padding"); goto out; }
  const char *alg = json_string_value(json_object_get(hdr, "alg"));
  if (!alg || strcmp(alg, alg_names[cfg->alg]) != 0) { rc = invalid(err, "The specified alg value is not allowed"); goto out; }
  if ((rc = check_signature(cfg, hdr, token, (size_t)(d2 - token), d2 + 1, sn, err))) goto out;

  body = decode_part(d1 + 1, pn);
  if (!body) { rc = invalid(err, "Invalid payload string: not valid JSON"); goto out; }
  if (!json_is_object(body)) { rc = invalid(err, "Invalid payload string: must be a json object"); goto out; }

  double exp = 0, iat = 0, nbf = 0, lw = cfg->leeway_sec;
  int has_exp, has_iat, has_nbf;
  if (num_claim(body, "exp", &exp, &has_exp)) { rc = invalid(err, "Expiration Time claim (exp) must be an integer."); goto out; }
  if (num_claim(body, "iat", &iat, &has_iat)) { rc = invalid(err, "Issued At claim (iat) must be an integer."); goto out; }
  if (num_claim(body, "nbf", &nbf, &has_nbf)) { rc = invalid(err, "Not Before claim (nbf) must be an integer."); goto out; }
  if (has_exp && floor(now) >= exp + lw) { rc = hx_err_setst(err, HX_EUNAUTH, 401, "Token has expired"); goto out; }
  if (has_iat && iat > now + lw) { rc = invalid(err, "The token is not yet valid (iat)"); goto out; }
  if (has_nbf && nbf > now + lw) { rc = invalid(err, "The token is not yet valid (nbf)"); goto out; }
  *claims = body;
  body = NULL;
  rc = 0;
out:
  json_decref(hdr);
  json_decref(body);
  return rc;
}

int hx_jwt_verify_hs256(const char *token, const char *secret, double now, json_t **claims, hx_err *err) {
  hx_auth_cfg cfg = {.hs256_secret = secret, .alg = HX_JWT_HS256};
  return hx_jwt_verify(&cfg, token, now, claims, err);
}

char *hx_jwt_make_dev(const char *secret, const char *user, const char *org, const char *role, long minutes) {
  long now = (long)hx_now();
  json_t *p = json_pack("{s:s,s:s,s:I,s:I}", "sub", user, "org_id", org, "iat", (json_int_t)now,
                        "exp", (json_int_t)(now + minutes * 60));
  if (role && *role) json_object_set_new(p, "role", json_string(role));
  char *body = json_dumps(p, JSON_COMPACT);
  json_decref(p);
  const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  size_t bl = strlen(body), hl = strlen(hdr);
  char *out = malloc(4 * (hl + bl + 32) / 3 + 64);
  size_t o = hx_b64url_encode((const uint8_t *)hdr, hl, out);
  out[o++] = '.';
  o += hx_b64url_encode((const uint8_t *)body, bl, out + o);
  uint8_t mac[32];
  hx_hmac_sha256(secret, strlen(secret), out, o, mac);
  out[o++] = '.';
  hx_b64url_encode(mac, 32, out + o);
  free(body);
  return out;
}
