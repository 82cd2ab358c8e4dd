/*
 * chunk.h - cut an extracted document (extract/extract.h) into chunks that fit
 * the embedding model, measured in the model's own tokens.
 *
 * The chunker does not know the model: the caller passes a token counter
 * (later the embedder's tokenizer; hx_chunk_count_default for tests and the
 * mock model). Every chunk has at most max_tokens tokens by that counter.
 *
 * How text is cut, in order of preference:
 *   1. paragraph boundaries: whole blocks of the document are packed greedily;
 *   2. a block over the limit is cut at sentence boundaries (ICU UBRK_SENTENCE,
 *      newlines inside a block count as spaces there, so hard-wrapped lines do
 *      not end sentences);
 *   3. a sentence over the limit at word boundaries (ICU UBRK_WORD; dictionary
 *      based for Chinese and Japanese);
 *   4. a word over the limit at code point boundaries.
 * A UTF-8 sequence is never split: so a single code point that by itself
 * counts more than max_tokens (only with a tiny max_tokens) is a chunk alone,
 * the one case where a chunk exceeds the limit. Pieces are packed greedily into chunks; a
 * chunk is a contiguous range of hx_doc.text (so it may contain "\n\n" between
 * blocks), trimmed of surrounding whitespace.
 *
 * Overlap: chunk k+1 starts with the last words of chunk k, as many as fit in
 * overlap_tokens (by the counter, starting at an ICU word boundary). It is
 * reduced only when the overlap plus the next piece would not fit in
 * max_tokens. Between chunks there is never anything but whitespace, so every
 * word of the document lands in at least one chunk.
 *
 * Offsets are into hx_doc.text: byte_start/byte_end (UTF-8 bytes, end
 * exclusive) and cp_start/cp_end (Unicode code points, end exclusive).
 */
#ifndef HX_CHUNK_CHUNK_H
#define HX_CHUNK_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "extract/extract.h"
#include "util/err.h"

/* Number of tokens in text[0..len) (UTF-8, not NUL-terminated). Must be
 * monotone: a longer prefix never has fewer tokens. */
typedef size_t (*hx_token_count_fn)(void *ctx, const char *text, size_t len);

/* Whitespace-separated words, except that each Han ideograph, Hiragana and
 * Katakana character counts as one token (those scripts use no spaces).
 * Korean is spaced, so a Hangul word is one token. ctx is unused. */
size_t hx_chunk_count_default(void *ctx, const char *text, size_t len);

#define HX_CHUNK_OVERLAP_DEFAULT ((size_t)-1) /* 15% of max_tokens */

typedef struct hx_chunk_opts {
  size_t max_tokens;       /* > 0 */
  size_t overlap_tokens;   /* < max_tokens, or HX_CHUNK_OVERLAP_DEFAULT */
  hx_token_count_fn count; /* NULL = hx_chunk_count_default */
  void *ctx;               /* passed to count */
  const char *locale;      /* ICU locale of the sentence rules, NULL = root */
} hx_chunk_opts;

typedef struct hx_chunk {
  size_t index;
  char id[24];              /* "chunk-0000", "chunk-0001", ... (4+ digits) */
  char *text;               /* owned by the list; NUL-terminated */
  size_t len;
  size_t byte_start, byte_end;
  size_t cp_start, cp_end;
  size_t tokens;            /* by the counter */
  uint32_t page;            /* page of the block where the chunk starts, 0 = none */
  int64_t start_ms, end_ms; /* span of the cues in the chunk, -1 = none */
} hx_chunk;

/* Caller-owned struct: hx_chunk_doc fills it, hx_chunk_list_release frees it. */
typedef struct hx_chunk_list {
  hx_chunk *v;
  size_t n;
} hx_chunk_list;

int hx_chunk_doc(const hx_doc *doc, const hx_chunk_opts *opts, hx_chunk_list *out, hx_err *err);
void hx_chunk_list_release(hx_chunk_list *l);

#endif
