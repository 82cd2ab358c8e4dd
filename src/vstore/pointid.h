/*
 * pointid.h - deterministic point ids of the original service.
 *
 * point id = first 16 bytes of SHA-256("{org_id}:{asset_id}:{segment_id}:{model}:{model_ver}")
 * printed as 8-4-4-4-12 lowercase hex (version/variant bits untouched), so the
 * same segment embedded again overwrites its point (at-least-once delivery,
 * exactly-once effect).
 */
#ifndef HX_VSTORE_POINTID_H
#define HX_VSTORE_POINTID_H

#include <stdint.h>

#include "util/uuid.h"

/* out: the id; seed (optional): big-endian u32 of the hash's first 4 bytes
 * (the mock vector's seed). Returns 0 or HX_ENOMEM. */
int hx_point_id(const char *org_id, const char *asset_id, const char *segment_id,
                const char *model, const char *model_ver, hx_uuid *out, uint32_t *seed);

#endif
