/*
 * safetensors.h - read-only, memory-mapped reader of the safetensors format.
 *
 * Byte layout of a .safetensors file (all little-endian):
 *   offset 0   u64  N, the length of the header in bytes
 *   offset 8   N bytes of UTF-8 JSON:
 *                {"<name>": {"dtype": "F32"|"F16"|"BF16"|..., "shape": [d0, d1, ...],
 *                            "data_offsets": [begin, end]}, ...,
 *                 "__metadata__": {"k": "v", ...}   (optional, ignored)}
 *   offset 8+N the data buffer; a tensor's bytes are [begin, end) relative to
 *              it, row-major, end - begin = prod(shape) * sizeof(dtype).
 * There is no magic and no checksum: validation is that the header parses,
 * every dtype is known, offsets lie inside the file, sizes match shapes, and
 * no two tensors overlap. Any violation is HX_ECORRUPT naming the file.
 */
#ifndef HX_EMBED_SAFETENSORS_H
#define HX_EMBED_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum { HX_ST_F32 = 0, HX_ST_F16, HX_ST_BF16, HX_ST_OTHER };

typedef struct hx_st_tensor {
  const char *name;      /* borrowed from the reader */
  int dtype;             /* HX_ST_* */
  int ndim;              /* <= 8 */
  int64_t shape[8];
  size_t nbytes;
  int64_t nelem;
  const void *data;      /* borrowed: inside the mapping, may be unaligned */
} hx_st_tensor;

typedef struct hx_safetensors hx_safetensors;

int hx_safetensors_open(const char *path, hx_safetensors **out, hx_err *err);
void hx_safetensors_close(hx_safetensors *st);

size_t hx_safetensors_count(const hx_safetensors *st);
const hx_st_tensor *hx_safetensors_at(const hx_safetensors *st, size_t i);
/* NULL when absent. */
const hx_st_tensor *hx_safetensors_find(const hx_safetensors *st, const char *name);
const char *hx_safetensors_path(const hx_safetensors *st);

/* Convert t (F32, F16 or BF16) to nelem floats at dst. HX_EUNSUPP otherwise. */
int hx_safetensors_to_f32(const hx_st_tensor *t, float *dst, hx_err *err);

/* Scalar conversions, exposed for tests and for the reduced-precision path. */
float hx_f16_to_f32(uint16_t h);
float hx_bf16_to_f32(uint16_t h);

#endif
