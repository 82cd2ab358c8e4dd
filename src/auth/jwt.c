/*
 * jwt.c - compact JWS (HS256) parsing, verification and dev-token minting.
 * Messages follow PyJWT's, which the original service passed through as
 * "Invalid token: <message>".
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

static int invalid(hx_err *err, const char *why) {
  return hx_err_setst(err, HX_EUNAUTH, 401, "Invalid token: %s", why);
}

static json_t *decode_part(const char *p, size_t n) {
  uint8_t *raw = malloc(n + 4);
  if (!raw) return NULL;
  long len = hx_b64url_decode(p, n, raw);
  json_t *j = NULL;
  if (len >= 0) j = json_loadb((const char *)raw, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
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

int hx_jwt_verify_hs256(const char *token, const char *secret, double now, json_t **claims, hx_err *err) {
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
  if (!alg || strcmp(alg, "HS256") != 0) { rc = invalid(err, "The specified alg value is not allowed"); goto out; }

  uint8_t mac[32], sig[64];
  long slen = hx_b64url_decode(d2 + 1, sn > 80 ? 80 : sn, sig);
  hx_hmac_sha256(secret, strlen(secret), token, (size_t)(d2 - token), mac);
  if (sn > 80 || slen != 32 || hx_ct_memcmp(mac, sig, 32) != 0) {
    rc = invalid(err, "Signature verification failed");
    goto out;
  }
  body = decode_part(d1 + 1, pn);
  if (!body) { rc = invalid(err, "Invalid payload string: not valid JSON"); goto out; }
  if (!json_is_object(body)) { rc = invalid(err, "Invalid payload string: must be a json object"); goto out; }

  double exp = 0, iat = 0, nbf = 0;
  int has_exp, has_iat, has_nbf;
  if (num_claim(body, "exp", &exp, &has_exp)) { rc = invalid(err, "Expiration Time claim (exp) must be an integer."); goto out; }
  if (num_claim(body, "iat", &iat, &has_iat)) { rc = invalid(err, "Issued At claim (iat) must be an integer."); goto out; }
  if (num_claim(body, "nbf", &nbf, &has_nbf)) { rc = invalid(err, "Not Before claim (nbf) must be an integer."); goto out; }
  if (has_exp && floor(now) >= exp) { rc = hx_err_setst(err, HX_EUNAUTH, 401, "Token has expired"); goto out; }
  if (has_iat && iat > now) { rc = invalid(err, "The token is not yet valid (iat)"); goto out; }
  if (has_nbf && nbf > now) { rc = invalid(err, "The token is not yet valid (nbf)"); goto out; }
  *claims = body;
  body = NULL;
  rc = 0;
out:
  json_decref(hdr);
  json_decref(body);
  return rc;
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
