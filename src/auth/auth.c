/* auth.c - Authorization header -> principal (org, user, role); the provider
 * set-up from the configuration. */
#include "auth/auth.h"
#include "util/hash.h"
#include "util/log.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- tokens that passed (hx_auth_check): a direct-mapped table ---- */

#define CACHE_SLOTS 256
#define CACHE_TOKEN_MAX 4096  /* longer tokens are verified every time */

typedef struct slot {
  pthread_mutex_t mu;
  char *token;                /* NULL = empty */
  size_t len;
  double from, until;         /* wall clock: admitted while from <= now < until (the token's dates) */
  double stored;              /* monotonic: and for HX_AUTH_CACHE_SEC after this, whatever the wall clock does */
  hx_principal who;
} slot;

struct hx_auth_cache {
  slot s[CACHE_SLOTS];
};

static slot *cache_slot(struct hx_auth_cache *c, const char *tok, size_t len) {
  return &c->s[hx_fnv1a64(HX_FNV1A64_INIT, tok, len) % CACHE_SLOTS];
}

static int cache_get(struct hx_auth_cache *c, const char *tok, size_t len, double now, hx_principal *out) {
  if (!c || len > CACHE_TOKEN_MAX) return 0;
  slot *e = cache_slot(c, tok, len);
  pthread_mutex_lock(&e->mu);
  int hit = e->token && e->len == len && hx_ct_memcmp(e->token, tok, len) == 0 && now >= e->from &&
            floor(now) < e->until && hx_mono() < e->stored + HX_AUTH_CACHE_SEC;
  if (hit) *out = e->who;
  pthread_mutex_unlock(&e->mu);
  return hit;
}

/* The window hx_jwt_verify admits claims in (its date checks, inverted). */
static void cache_put(struct hx_auth_cache *c, const char *tok, size_t len, const json_t *claims, double lw,
                      const hx_principal *who) {
  if (!c || len > CACHE_TOKEN_MAX) return;
  double from = -INFINITY, until = INFINITY;
  json_t *v;
  if ((v = json_object_get(claims, "exp")) && json_is_number(v)) until = json_number_value(v) + lw;
  if ((v = json_object_get(claims, "iat")) && json_is_number(v)) from = json_number_value(v) - lw;
  if ((v = json_object_get(claims, "nbf")) && json_is_number(v) && json_number_value(v) - lw > from)
    from = json_number_value(v) - lw;
  char *copy = malloc(len);
  if (!copy) return;
  memcpy(copy, tok, len);
  slot *e = cache_slot(c, tok, len);
  pthread_mutex_lock(&e->mu);
  free(e->token);
  e->token = copy;
  e->len = len;
  e->from = from;
  e->until = until;
  e->stored = hx_mono();
  e->who = *who;
  pthread_mutex_unlock(&e->mu);
}

static struct hx_auth_cache *cache_new(void) {
  struct hx_auth_cache *c = calloc(1, sizeof *c);
  for (int i = 0; c && i < CACHE_SLOTS; i++) pthread_mutex_init(&c->s[i].mu, NULL);
  return c;
}

static void cache_free(struct hx_auth_cache *c) {
  for (int i = 0; c && i < CACHE_SLOTS; i++) {
    free(c->s[i].token);
    pthread_mutex_destroy(&c->s[i].mu);
  }
  free(c);
}

/* The claim value as the original's str(): strings as-is, numbers printed. */
static const char *claim_str(json_t *v, char *tmp, size_t cap) {
  if (json_is_string(v)) return json_string_value(v);
  if (json_is_integer(v)) { snprintf(tmp, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); return tmp; }
  return NULL;
}

int hx_auth_check(const hx_auth_cfg *cfg, const char *header, hx_principal *out, hx_err *err) {
  if (!header) return hx_err_setst(err, HX_EDENIED, 403, "Not authenticated");
  while (*header == ' ') header++;
  const char *sp = strchr(header, ' ');
  if (!*header || !sp) return hx_err_setst(err, HX_EDENIED, 403, "Not authenticated");
  if ((size_t)(sp - header) != 6 || strncasecmp(header, "bearer", 6) != 0)
    return hx_err_setst(err, HX_EDENIED, 403, "Invalid authentication credentials");
  const char *tok = sp;
  while (*tok == ' ') tok++;
  if (!*tok) return hx_err_setst(err, HX_EDENIED, 403, "Not authenticated");

  size_t len = strlen(tok);
  double now = hx_now();
  if (cache_get(cfg->cache, tok, len, now, out)) return 0;
  json_t *claims = NULL;
  int rc = hx_jwt_verify(cfg, tok, now, &claims, err);
  if (rc) return rc;
  char tmp[64];
  if (cfg->issuer && *cfg->issuer) {
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    if (!iss || strcmp(iss, cfg->issuer)) {
      rc = hx_err_setst(err, HX_EUNAUTH, 401, "Invalid issuer claim (expected: %s)", cfg->issuer);
      goto out;
    }
  }
  if (cfg->audience && *cfg->audience) {
    json_t *aud = json_object_get(claims, "aud");
    int ok = json_is_string(aud) && !strcmp(json_string_value(aud), cfg->audience);
    size_t i;
    json_t *a;
    if (json_is_array(aud)) json_array_foreach(aud, i, a) if (json_is_string(a) && !strcmp(json_string_value(a), cfg->audience)) ok = 1;
    if (!ok) {
      rc = hx_err_setst(err, HX_EUNAUTH, 401, "Invalid audience claim (expected: %s)", cfg->audience);
      goto out;
    }
  }
  const char *sub = claim_str(json_object_get(claims, "sub"), tmp, sizeof tmp);
  if (!sub || !*sub) { rc = hx_err_setst(err, HX_EUNAUTH, 401, "Missing sub claim in token"); goto out; }
  if (strlen(sub) >= sizeof out->user_id) { rc = hx_err_setst(err, HX_EUNAUTH, 401, "Invalid token: sub claim is too long"); goto out; }
  strcpy(out->user_id, sub);

  json_t *org = NULL, *am = json_object_get(claims, "app_metadata");
  if (json_is_object(am)) org = json_object_get(am, "org_id");
  if (!org) org = json_object_get(claims, "https://heimdex.io/org_id");
  if (!org) org = json_object_get(claims, "org_id");
  if (!org || json_is_null(org)) {
    rc = hx_err_setst(err, HX_EUNAUTH, 401, "Missing org_id claim in token (required for tenant isolation)");
    goto out;
  }
  const char *os = claim_str(org, tmp, sizeof tmp);
  if (!os || hx_uuid_canon(os, out->org_id) != 0) {
    rc = hx_err_setst(err, HX_EUNAUTH, 401, "Invalid token: org_id claim must be a UUID");
    goto out;
  }
  const char *role = json_string_value(json_object_get(claims, "role"));
  snprintf(out->role, sizeof out->role, "%s", role ? role : "");
  cache_put(cfg->cache, tok, len, claims, cfg->leeway_sec, out);
  rc = 0;
out:
  json_decref(claims);
  return rc;
}

int hx_auth_init(hx_auth_cfg *a, const hx_config *cfg, hx_err *err) {
  memset(a, 0, sizeof *a);
  a->issuer = cfg->auth_issuer;
  a->audience = cfg->auth_audience;
  a->leeway_sec = cfg->auth_leeway_sec;
  if (!(a->cache = cache_new())) return hx_err_set(err, HX_ENOMEM, "out of memory");
  if (!strcmp(cfg->auth_provider, "dev")) {
    a->hs256_secret = cfg->dev_jwt_secret;
    a->alg = HX_JWT_HS256;
    return 0;
  }
  a->alg = !strcmp(cfg->auth_alg, "ES256") ? HX_JWT_ES256 : HX_JWT_RS256;
  int rc = hx_jwks_new(cfg->supabase_jwks_url, cfg->jwks_ttl_sec, cfg->jwks_refetch_sec, cfg->jwks_timeout_ms, &a->jwks, err);
  if (rc) {
    hx_auth_release(a);
    return rc;
  }
  hx_err e = {0};
  if (hx_jwks_refresh(a->jwks, &e) == 0) return 0;
  /* a key file is configuration: fail now; a URL may come back: fetch on demand */
  if (strncmp(cfg->supabase_jwks_url, "http://", 7) && strncmp(cfg->supabase_jwks_url, "https://", 8)) {
    hx_auth_release(a);
    return hx_err_set(err, HX_ECONFIG, "SUPABASE_JWKS_URL: %s", e.msg);
  }
  return 0;
}

void hx_auth_release(hx_auth_cfg *a) {
  if (!a) return;
  hx_jwks_free(a->jwks);
  a->jwks = NULL;
  cache_free(a->cache);
  a->cache = NULL;
}
