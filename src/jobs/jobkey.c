/* jobkey.c - deterministic job keys. */
#include "jobs/jobkey.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/json.h"

int hx_job_key(const char *org, const char *op_type, const json_t *payload,
               char out[HX_JOB_KEY_LEN + 1]) {
  hx_buf b;
  hx_buf_init(&b, (size_t)1 << 26);
  int rc = hx_buf_addf(&b, "%s:%s:", org, op_type);
  if (rc == 0) rc = hx_json_stable(payload, &b);
  if (rc == 0) {
    uint8_t h[32];
    hx_sha256(b.data, b.len, h);
    hx_hex(h, 32, out);
  }
  hx_buf_release(&b);
  return rc;
}

void hx_text_hash(const char *text, size_t len, char out[17]) {
  uint8_t h[32];
  char hex[65];
  hx_sha256(text, len, h);
  hx_hex(h, 32, hex);
  for (int i = 0; i < 16; i++) out[i] = hex[i];
  out[16] = '\0';
}
