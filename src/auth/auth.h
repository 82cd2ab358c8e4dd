/*
 * auth.h - bearer-token authentication with the original service's answers.
 *
 *   no Authorization header / empty credentials -> 403 "Not authenticated"
 *   scheme other than Bearer                    -> 403 "Invalid authentication credentials"
 *   bad signature, malformed, alg not allowed   -> 401 "Invalid token: <reason>"
 *   expired                                     -> 401 "Token has expired"
 *   no sub / no org_id claim                    -> 401 "Missing sub claim in token" / "Missing org_id ..."
 *
 * Dev mode accepts only HS256 signed with DEV_JWT_SECRET. org_id is looked up
 * in app_metadata.org_id, then "https://heimdex.io/org_id", then org_id, and
 * canonicalised (lowercase hyphenated UUID) so spellings of one org are one org.
 */
#ifndef HX_AUTH_AUTH_H
#define HX_AUTH_AUTH_H

#include "util/err.h"
#include "util/uuid.h"

typedef struct hx_principal {
  char org_id[HX_UUID_STRLEN + 1];  /* canonical */
  char user_id[256];
  char role[64];                     /* "" when absent */
} hx_principal;

typedef struct hx_auth_cfg {
  const char *hs256_secret;   /* borrowed */
  const char *issuer;         /* "" = not checked */
  const char *audience;       /* "" = not checked */
} hx_auth_cfg;

/* header: the raw Authorization header value or NULL. On failure err->status
 * is 401 or 403 and err->msg the original's detail. */
int hx_auth_check(const hx_auth_cfg *cfg, const char *header, hx_principal *out, hx_err *err);

/* Verify a compact JWS and return its claims (caller decrefs). */
struct json_t;
int hx_jwt_verify_hs256(const char *token, const char *secret, double now, struct json_t **claims, hx_err *err);

/* A dev token like the original's create_dev_token. Caller frees. */
char *hx_jwt_make_dev(const char *secret, const char *user, const char *org, const char *role, long minutes);

#endif
