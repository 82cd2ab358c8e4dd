/* libFuzzer target: the Authorization header -> JWT parsing, verification and claims. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  char *h = malloc(n + 1);
  memcpy(h, data, n);
  h[n] = '\0';
  hx_auth_cfg cfg = {.hs256_secret = "fuzz-secret", .issuer = "", .audience = ""};
  hx_principal who;
  hx_err err = {0};
  int rc = hx_auth_check(&cfg, h, &who, &err);
  if (rc == 0 && strlen(who.org_id) != 36) abort();           /* org is always canonical */
  if (rc != 0 && err.status != 401 && err.status != 403) abort();
  free(h);
  return 0;
}
