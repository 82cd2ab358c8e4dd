/*
 * sparse.h - text to a BM25-style sparse vector, for keyword search.
 *
 * Why it exists: the store's sparse vector "text" (IDF modifier) gives keyword
 * search once every segment carries term weights. The IDF half of BM25 is
 * computed by the store at query time from the tenant's own points; this file
 * makes the other half, the saturated term frequency, at ingest.
 *
 * Terms (the same on both sides, so a query meets its documents):
 *   - the text is read as code points; each is case-folded and decomposed
 *     (utf8proc NFKD + case folding) and combining marks are dropped, so
 *     "Café", "CAFE" and "café" are one term and full-width letters match;
 *   - a word is a maximal run of letters and digits (categories L*, N*);
 *     words keep their first 64 code points;
 *   - Han ideographs, Hiragana and Katakana are written without spaces: every
 *     such character is a term of its own and so is every pair of adjacent
 *     ones (unigrams + bigrams), as CJK retrieval systems commonly do;
 *   - term id = 32-bit FNV-1a of the term's UTF-8 bytes.
 *
 * Weights:
 *   document: w(t) = tf (k1 + 1) / (tf + k1 (1 - b + b dl / avgdl)) with
 *     k1 = 1.2, b = 0.75, dl = the text's term count and avgdl = an assumed
 *     HX_SPARSE_AVGDL (the tenant's true mean length is not known at ingest;
 *     the constant only sets where length normalisation is neutral);
 *   query: 1 per distinct term (the store multiplies by idf(t)).
 * The resulting score is BM25: sum over query terms of idf(t) * w_doc(t).
 */
#ifndef HX_SEARCH_SPARSE_H
#define HX_SEARCH_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define HX_SPARSE_K1 1.2
#define HX_SPARSE_B 0.75
#define HX_SPARSE_AVGDL 100.0

/* A sparse vector: idx ascending and distinct. Caller-owned (hx_sparse_release). */
typedef struct hx_sparse {
  uint32_t *idx;
  float *val;
  uint32_t n;
} hx_sparse;

/* Encode text (len bytes of UTF-8) as a document (query = 0) or a query
 * (query = 1). A text without any term gives n = 0 (not an error).
 * HX_EINVAL (422) on invalid UTF-8, HX_ENOMEM. */
int hx_sparse_encode(const char *text, size_t len, int query, hx_sparse *out, hx_err *err);
void hx_sparse_release(hx_sparse *s);

/* The term id of one already-normalised term (tests, tools). */
uint32_t hx_sparse_term_id(const char *term, size_t len);

#endif
