/*
 * fuzz_safetensors.c - libFuzzer target for the safetensors reader: the input
 * is written as a file and opened; if it opens, every tensor is converted to
 * f32 (small ones) so offsets and sizes are exercised. Must never crash.
 * Build and run: tests/embed/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "embed/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/dev/shm/hx-fuzz-st-%d", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
  hx_safetensors *st = NULL;
  hx_err err = {0};
  if (hx_safetensors_open(path, &st, &err) == 0) {
    for (size_t i = 0; i < hx_safetensors_count(st); i++) {
      const hx_st_tensor *t = hx_safetensors_at(st, i);
      if (t->nelem > 0 && t->nelem < (1 << 16)) {
        float *buf = malloc((size_t)t->nelem * sizeof *buf);
        hx_safetensors_to_f32(t, buf, NULL);
        free(buf);
      }
    }
    hx_safetensors_close(st);
  }
  unlink(path);
  return 0;
}
