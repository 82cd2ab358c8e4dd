/*
 * tokenizer.h - the BERT WordPiece tokenizer, behaving like Hugging Face's
 * BertTokenizer / BertTokenizerFast.
 *
 * Pipeline (same order as the reference BasicTokenizer + WordpieceTokenizer):
 *   1. clean: drop U+0000, U+FFFD and control characters (category C*, except
 *      \t \n \r); every whitespace (\t \n \r, Zs) becomes a space;
 *   2. CJK ideographs (the BERT ranges) are surrounded by spaces;
 *   3. lower-case when do_lower_case; strip accents (NFD, drop Mn) when
 *      strip_accents, which defaults to do_lower_case;
 *   4. split on whitespace (space, Zl, Zp), then every punctuation character
 *      (ASCII 33-47, 58-64, 91-96, 123-126 and Unicode P*) is its own word;
 *   5. WordPiece per word: greedy longest match first, continuation pieces
 *      prefixed "##"; a word with no full cover or longer than
 *      max_input_chars_per_word (100) code points becomes [UNK];
 *   6. [CLS] tokens [SEP], truncated by tokens to max_len.
 *
 * Lower-casing is per character (simple case mapping plus U+0130 -> "i\u0307"),
 * as BertTokenizerFast does; the slow Python tokenizer's context-dependent
 * final sigma and its NFC pass are not applied. Special-token strings inside
 * the text are tokenized as text.
 */
#ifndef HX_EMBED_TOKENIZER_H
#define HX_EMBED_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct hx_tokenizer hx_tokenizer;

typedef struct hx_tokenizer_opts {
  int lower;            /* do_lower_case */
  int strip_accents;    /* -1: same as lower */
  int max_word_chars;   /* 0: 100 */
} hx_tokenizer_opts;

/* Build from a vocabulary: tokens[i] has id i (borrowed, copied). */
int hx_tokenizer_new(const char *const *tokens, size_t n, const hx_tokenizer_opts *o,
                     hx_tokenizer **out, hx_err *err);

/* Load from a model directory: tokenizer.json (WordPiece model + BertNormalizer)
 * if present, else vocab.txt with options from tokenizer_config.json (optional).
 * Errors name the file. *model_max_len receives tokenizer_config's
 * model_max_length when present and sane, else 0. */
int hx_tokenizer_load(const char *dir, hx_tokenizer **out, int *model_max_len, hx_err *err);

void hx_tokenizer_free(hx_tokenizer *t);

/* Id of a token, -1 if absent. */
int hx_tokenizer_id(const hx_tokenizer *t, const char *tok);
size_t hx_tokenizer_vocab_size(const hx_tokenizer *t);

/* Encode text (len bytes, UTF-8) into ids[0..*n) = [CLS] ... [SEP] with
 * *n <= max_len (max_len >= 2). *truncated (optional) receives the number of
 * word pieces cut. *n == 2 means the text had no tokens (empty or blank).
 * HX_EINVAL on invalid UTF-8. Thread-safe (t is read-only). */
int hx_tokenizer_encode(const hx_tokenizer *t, const char *text, size_t len, int max_len,
                        int32_t *ids, int *n, int *truncated, hx_err *err);

#endif
