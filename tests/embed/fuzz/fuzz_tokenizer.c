/*
 * fuzz_tokenizer.c - libFuzzer target for the two text parsers of src/embed:
 * the WordPiece tokenizer and the lexical embedder. Byte 0 picks the options
 * (lower-case, strip accents, max length); the rest is the text. Any input
 * must either encode or fail with HX_EINVAL, never crash, and every id must
 * be inside the vocabulary. Build and run: tests/embed/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "embed/lexical.h"
#include "embed/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *vocab[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello",
                              "!", "a", "##a", "\xc3\xa9", "stra\xc3\x9f" "e", "\xe4\xb8\xad", "##\xc3\xa9",
                              "e", "##e", "i", "##i", "\xcf\x83"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static hx_tokenizer *t[4];
  if (!t[0])
    for (int k = 0; k < 4; k++) {
      hx_tokenizer_opts o = {k & 1, (k >> 1) & 1, 0};
      if (hx_tokenizer_new(vocab, sizeof vocab / sizeof vocab[0], &o, &t[k], NULL)) abort();
    }
  if (size < 1) return 0;
  int k = data[0] & 3, max_len = 2 + (data[0] >> 2);
  int32_t ids[2 + 64];
  int n = 0, tr = 0;
  int rc = hx_tokenizer_encode(t[k], (const char *)data + 1, size - 1, max_len, ids, &n, &tr, NULL);
  if (rc == 0) {
    if (n < 2 || n > max_len || tr < 0) abort();
    for (int i = 0; i < n; i++)
      if (ids[i] < 0 || (size_t)ids[i] >= hx_tokenizer_vocab_size(t[k])) abort();
  } else if (rc != HX_EINVAL) {
    abort();
  }
  float v[64];
  rc = hx_lexical_embed((const char *)data + 1, size - 1, 64, v, NULL, NULL);
  if (rc != 0 && rc != HX_EINVAL) abort();
  return 0;
}
