/* libFuzzer target: the production auth path. The first byte picks what the
 * rest is: 'J' a JWKS document (key parsing), 'R' / 'E' an Authorization
 * header verified under an RS256 / ES256 configuration against a fixed key
 * set (kid lookup, signature, claims). The seeds hold tokens validly signed by
 * the private halves of these keys (generated with the openssl CLI), so
 * mutations reach the claim checks behind a passing signature. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static const char keys[] = "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"use\":\"sig\",\"alg\":\"RS256\",\"n\":\"sNplEhgoaIY88XRSLabTwKNcYQFKQ4APxoELWKisUg04KaeldzZH3CKLiwQw2oi5Wwe9uGHRzZHGHhznNgvenohgWGn7JboqF0-Ix7SOp174V-W7p7TWsyQ8EhJyPkQhHWTNmAspfn4mFW7bo3NFSiu7zCu7leCHkmfeR6SAre2J6kvwm1KKvp_1oFBsMx-AMhdGwhVtV7Icxthblq-KapNFe8uFscW1-DxSPnJYutj-9KxkgVdgIOrFXfwyhHHc9z2xLgVkmAMoA1mhp08OiBf4iRvgQGo8KyiADbDhgzr5MEkyHGYAZFQWl3YXHJxOpljJenHc_geBFSZ8k6DJZw\",\"e\":\"AQAB\"},{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\",\"x\":\"GWZLF4BqN2k39DnPm-ZuFKyRqS19c6So9V_N47cQFlM\",\"y\":\"_TpbQQQ-td_oYGZG3fcNs0G8X1Fm1J3owGH6oXnr1Z4\"}]}";

static hx_jwks *fixed(void) {
  static hx_jwks *k;
  if (!k) {
    /* a source that never loads: an unknown kid's refetch fails once, then waits an hour */
    if (hx_jwks_new("/nonexistent/jwks.json", 86400, 3600, 100, &k, NULL) ||
        hx_jwks_load_json(k, keys, sizeof keys - 1, NULL))
      abort();
  }
  return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (n < 1) return 0;
  char *s = malloc(n);
  memcpy(s, data + 1, n - 1);
  s[n - 1] = '\0';
  hx_err err = {0};
  if (data[0] == 'J') {
    hx_jwks *k = NULL;
    if (hx_jwks_new("/nonexistent/jwks.json", 600, 3600, 100, &k, NULL)) abort();
    int rc = hx_jwks_load_json(k, s, n - 1, &err);
    if (rc != 0 && rc != HX_EINVAL) abort();
    hx_jwks_free(k);
  } else if (data[0] == 'R' || data[0] == 'E') {
    hx_auth_cfg cfg = {.issuer = "https://fuzz.test", .audience = "authenticated", .leeway_sec = 30,
                       .alg = data[0] == 'R' ? HX_JWT_RS256 : HX_JWT_ES256, .jwks = fixed()};
    hx_principal who;
    int rc = hx_auth_check(&cfg, s, &who, &err);
    if (rc == 0 && strlen(who.org_id) != 36) abort();   /* org is always canonical */
    if (rc != 0 && err.status != 401 && err.status != 403) abort();
  }
  free(s);
  return 0;
}
