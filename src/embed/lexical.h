/*
 * lexical.h - the built-in embedder that needs no model file ("lexical", v1).
 *
 * A text becomes a signed feature-hashing vector of
 *   - its words: maximal runs of letters, digits and marks, lower-cased
 *     (Unicode simple case mapping), feature "w:" + word, weight 1;
 *   - the character 3-, 4- and 5-grams of "<" + word + ">", feature
 *     "c:" + gram, weight 0.4 (so related word forms still meet);
 * each feature f with count n adds sign(f) * weight * (1 + ln n) (sublinear
 * tf) to bucket h(f) mod dim, where h is 64-bit FNV-1a of the feature's UTF-8
 * bytes and sign(f) its top bit. The vector is L2-normalised.
 * Stable by construction: no seed, no locale, no platform dependence, so
 * "v1" vectors stay comparable across builds. Texts sharing words score
 * clearly higher (cosine) than unrelated ones.
 */
#ifndef HX_EMBED_LEXICAL_H
#define HX_EMBED_LEXICAL_H

#include <stddef.h>

#include "util/err.h"

/* out[dim] = the embedding of text. *nwords (optional) receives the word
 * count. HX_EINVAL (422) on invalid UTF-8 or a text without any word. */
int hx_lexical_embed(const char *text, size_t len, int dim, float *out, int *nwords, hx_err *err);

#endif
