/*
 * auth.h - bearer-token authentication with the original service's answers.
 *
 *   no Authorization header / empty credentials -> 403 "Not authenticated"
 *   scheme other than Bearer                    -> 403 "Invalid authentication credentials"
 *   bad signature, malformed, alg not allowed   -> 401 "Invalid token: <reason>"
 *   expired                                     -> 401 "Token has expired"
 *   no sub / no org_id claim                    -> 401 "Missing sub claim in token" / "Missing org_id ..."
 *
 * AUTH_PROVIDER=dev accepts only HS256 signed with DEV_JWT_SECRET.
 * AUTH_PROVIDER=supabase accepts only the one asymmetric algorithm of
 * AUTH_JWT_ALG (RS256 default, or ES256) with a key of the JWKS at
 * SUPABASE_JWKS_URL chosen by the header's kid (jwks.c); iss must be
 * AUTH_ISSUER. In both, the algorithm comes from the configuration: a header
 * naming another one (none, HS256 against RS256 keys, ...) is refused before
 * any key is looked at. org_id is looked up
 * in app_metadata.org_id, then "https://heimdex.io/org_id", then org_id, and
 * canonicalised (lowercase hyphenated UUID) so spellings of one org are one org.
 */
#ifndef HX_AUTH_AUTH_H
#define HX_AUTH_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "util/config.h"
#include "util/err.h"
#include "util/uuid.h"

typedef struct hx_principal {
  char org_id[HX_UUID_STRLEN + 1];  /* canonical */
  char user_id[256];
  char role[64];                     /* "" when absent */
} hx_principal;

/* The one algorithm a configuration accepts. */
typedef enum { HX_JWT_HS256 = 0, HX_JWT_RS256, HX_JWT_ES256 } hx_jwt_alg;

typedef struct hx_jwks hx_jwks;

typedef struct hx_auth_cfg {
  const char *hs256_secret;   /* borrowed; HS256 only */
  const char *issuer;         /* "" = not checked */
  const char *audience;       /* "" = not checked */
  hx_jwt_alg alg;             /* pinned by the configuration */
  int leeway_sec;             /* allowed clock skew on exp / nbf / iat */
  hx_jwks *jwks;              /* owned; RS256 / ES256 only */
  struct hx_auth_cache *cache;  /* owned; NULL = verify every time */
} hx_auth_cfg;

/* Fill a from the configuration (strings borrowed from cfg, which must
 * outlive a). For supabase the key set is loaded once here: a file that cannot
 * be read fails; an unreachable URL only logs, and is retried on demand. */
int hx_auth_init(hx_auth_cfg *a, const hx_config *cfg, hx_err *err);
void hx_auth_release(hx_auth_cfg *a);

/* header: the raw Authorization header value or NULL. On failure err->status
 * is 401 or 403 and err->msg the original's detail. With a cache (set up by
 * hx_auth_init), a token that passed is remembered with its date window for
 * at most HX_AUTH_CACHE_SEC: the same bytes again inside the window give the
 * same principal without the signature check; a token past its exp (plus
 * leeway) is refused as before; a key removed from the JWKS stops admitting
 * its tokens at most HX_AUTH_CACHE_SEC later. Failures are never cached. */
#define HX_AUTH_CACHE_SEC 60
int hx_auth_check(const hx_auth_cfg *cfg, const char *header, hx_principal *out, hx_err *err);

/* Verify a compact JWS under cfg's pinned algorithm and key(s), check the
 * date claims, and return the claims (caller decrefs). Issuer, audience and
 * the identity claims are hx_auth_check's. */
struct json_t;
int hx_jwt_verify(const hx_auth_cfg *cfg, const char *token, double now, struct json_t **claims, hx_err *err);
int hx_jwt_verify_hs256(const char *token, const char *secret, double now, struct json_t **claims, hx_err *err);

/* ---- JSON Web Key Sets (jwks.c) ----
 * source: https://..., http://..., file://... or a path. Keys are cached for
 * ttl_sec; a kid not in the cache refetches at most once per refetch_sec;
 * each fetch gives up after timeout_ms and reads at most 1 MiB. A failed fetch
 * keeps the keys already known. Thread-safe. */
int hx_jwks_new(const char *source, int ttl_sec, int refetch_sec, int timeout_ms, hx_jwks **out, hx_err *err);
void hx_jwks_free(hx_jwks *k);
/* Load (or reload) now; 0 when at least one usable key was read. */
int hx_jwks_refresh(hx_jwks *k, hx_err *err);
/* What a JWS signs and its signature (borrowed). */
typedef struct hx_jwks_sig {
  const void *msg;
  size_t msg_len;
  const uint8_t *sig;
  size_t sig_len;
} hx_jwks_sig;
/* Verify v with the key for kid (NULL = the only key of that type) usable
 * with alg; keys never leave the cache (a reload waits for verifications in
 * progress). 401 "Invalid token: ..." for no such key or a bad signature, 503
 * when the key set cannot be fetched at all. hx_jwks_find: only whether
 * there is such a key, with the same refetch rules. */
int hx_jwks_verify(hx_jwks *k, const char *kid, hx_jwt_alg alg, const hx_jwks_sig *v, hx_err *err);
int hx_jwks_find(hx_jwks *k, const char *kid, hx_jwt_alg alg, hx_err *err);
/* Parse a JWKS document into k's cache (exposed for the fuzz target). */
int hx_jwks_load_json(hx_jwks *k, const char *doc, size_t len, hx_err *err);

/* A dev token like the original's create_dev_token. Caller frees. */
char *hx_jwt_make_dev(const char *secret, const char *user, const char *org, const char *role, long minutes);

#endif
