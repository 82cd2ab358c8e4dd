/* pointid.c - SHA-256 based point ids. */
#include "vstore/pointid.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hash.h"

#include <string.h>

int hx_point_id(const char *org_id, const char *asset_id, const char *segment_id,
                const char *model, const char *model_ver, hx_uuid *out, uint32_t *seed) {
  hx_buf b;
  hx_buf_init(&b, (size_t)1 << 24);
  int rc = hx_buf_addf(&b, "%s:%s:%s:%s:%s", org_id, asset_id, segment_id, model, model_ver);
  if (rc) goto out;
  uint8_t h[32];
  hx_sha256(b.data, b.len, h);
  memcpy(out->b, h, 16);
  if (seed) *seed = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
out:
  hx_buf_release(&b);
  return rc;
}
