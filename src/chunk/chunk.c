/*
 * chunk.c - token-bounded chunking with ICU break iterators (see chunk.h).
 *
 * Two passes over hx_doc.text. First, the document becomes a list of pieces
 * (byte ranges that each fit max_tokens): whole blocks when they fit, else
 * sentences, else words, else code points. Along the way every ICU word start
 * is recorded; those are where an overlap may begin. Second, pieces are packed
 * greedily; the end of a chunk is found by galloping + binary search on the
 * counter (it is monotone), so a chunk costs O(log pieces) counts of its own
 * text rather than one count per piece.
 */
#include "chunk/chunk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/utypes.h>

typedef struct { size_t a, b; } range;

typedef struct {
  range *v;
  size_t n, cap;
} ranges;

typedef struct {
  size_t *v;
  size_t n, cap;
} offsets;

typedef struct {
  const char *text; /* borrowed: hx_doc.text */
  const hx_chunk_opts *o;
  UBreakIterator *sent, *word;
  UChar *u16;
  size_t *map; /* u16 index -> byte offset in text */
  size_t ucap;
  ranges pieces;
  offsets words; /* sorted byte offsets of word starts */
} ctx;

static int push_range(ranges *r, size_t a, size_t b) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 256;
    range *nv = realloc(r->v, cap * sizeof *nv);
    if (!nv) return HX_ENOMEM;
    r->v = nv, r->cap = cap;
  }
  r->v[r->n++] = (range){a, b};
  return 0;
}

static int push_off(offsets *o, size_t x) {
  if (o->n == o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 1024;
    size_t *nv = realloc(o->v, cap * sizeof *nv);
    if (!nv) return HX_ENOMEM;
    o->v = nv, o->cap = cap;
  }
  o->v[o->n++] = x;
  return 0;
}

static size_t count(ctx *c, size_t a, size_t b) { return c->o->count(c->o->ctx, c->text + a, b - a); }

static int is_ws(unsigned char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v'; }

/* Decode one code point of valid UTF-8 at s; *n = its length. */
static uint32_t cp_at(const unsigned char *s, size_t *n) {
  if (s[0] < 0x80) return *n = 1, s[0];
  if (s[0] < 0xE0) return *n = 2, (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
  if (s[0] < 0xF0) return *n = 3, (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
  return *n = 4, (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 |
                   (s[3] & 0x3F);
}

/* text[a..b) to UTF-16 in c->u16 with c->map; newline -> space when soft. */
static int to_u16(ctx *c, size_t a, size_t b, int soft_newlines, int32_t *n16) {
  size_t need = (b - a) + 1;
  if (need > c->ucap) {
    UChar *u = realloc(c->u16, need * sizeof *u);
    if (!u) return HX_ENOMEM;
    c->u16 = u;
    size_t *m = realloc(c->map, (need + 1) * sizeof *m);
    if (!m) return HX_ENOMEM;
    c->map = m;
    c->ucap = need;
  }
  if (b - a > INT32_MAX / 2) return HX_ETOOBIG;
  size_t k = 0;
  for (size_t i = a; i < b;) {
    size_t n;
    uint32_t cp = cp_at((const unsigned char *)c->text + i, &n);
    if (soft_newlines && (cp == '\n' || cp == '\r')) cp = ' ';
    if (cp >= 0x10000) {
      c->map[k] = i, c->u16[k++] = (UChar)(0xD800 + ((cp - 0x10000) >> 10));
      c->map[k] = i, c->u16[k++] = (UChar)(0xDC00 + ((cp - 0x10000) & 0x3FF));
    } else {
      c->map[k] = i, c->u16[k++] = (UChar)cp;
    }
    i += n;
  }
  c->map[k] = b;
  *n16 = (int32_t)k;
  return 0;
}

static int split(ctx *c, size_t a, size_t b, int level);

/* Each trimmed segment between consecutive boundaries: a piece if it fits,
 * else split at the next level. bounds are byte offsets, ascending. */
static int segments(ctx *c, const size_t *bounds, size_t nb, int level) {
  for (size_t i = 0; i + 1 < nb; i++) {
    size_t a = bounds[i], b = bounds[i + 1];
    while (a < b && is_ws((unsigned char)c->text[a])) a++;
    while (b > a && is_ws((unsigned char)c->text[b - 1])) b--;
    if (a == b) continue;
    int rc = count(c, a, b) <= c->o->max_tokens ? push_range(&c->pieces, a, b) : split(c, a, b, level + 1);
    if (rc) return rc;
  }
  return 0;
}

/* level 1 = sentences, 2 = words, 3 = code points */
static int split(ctx *c, size_t a, size_t b, int level) {
  int rc = 0;
  if (level >= 3) {
    /* greedy on code points; at least one per piece so it always ends */
    size_t s = a;
    while (s < b) {
      size_t e = s, n;
      cp_at((const unsigned char *)c->text + e, &n);
      e += n;
      while (e < b) {
        cp_at((const unsigned char *)c->text + e, &n);
        if (count(c, s, e + n) > c->o->max_tokens) break;
        e += n;
      }
      if ((rc = push_range(&c->pieces, s, e))) return rc;
      s = e;
    }
    return 0;
  }
  int32_t n16;
  if ((rc = to_u16(c, a, b, level == 1, &n16))) return rc;
  UBreakIterator *bi = level == 1 ? c->sent : c->word;
  UErrorCode st = U_ZERO_ERROR;
  ubrk_setText(bi, c->u16, n16, &st);
  if (U_FAILURE(st)) return HX_EINVAL;
  offsets bounds = {0};
  for (int32_t p = ubrk_first(bi); p != UBRK_DONE && !rc; p = ubrk_next(bi)) rc = push_off(&bounds, c->map[p]);
  if (!rc) rc = segments(c, bounds.v, bounds.n, level);
  free(bounds.v);
  return rc;
}

/* Record ICU word starts of text[a..b) (words only, not spaces/punctuation). */
static int word_starts(ctx *c, size_t a, size_t b) {
  int32_t n16;
  int rc = to_u16(c, a, b, 0, &n16);
  if (rc) return rc;
  UErrorCode st = U_ZERO_ERROR;
  ubrk_setText(c->word, c->u16, n16, &st);
  if (U_FAILURE(st)) return HX_EINVAL;
  int32_t prev = ubrk_first(c->word);
  for (int32_t p = ubrk_next(c->word); p != UBRK_DONE && !rc; prev = p, p = ubrk_next(c->word))
    if (ubrk_getRuleStatus(c->word) >= UBRK_WORD_NONE_LIMIT) rc = push_off(&c->words, c->map[prev]);
  return rc;
}

/* First index in words with value >= x. */
static size_t lower_bound(const offsets *o, size_t x) {
  size_t lo = 0, hi = o->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (o->v[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Earliest word start p in (lo, hi) with count(p, end) <= budget; hi if none. */
static size_t overlap_start(ctx *c, size_t lo, size_t hi, size_t end, size_t budget) {
  if (!budget) return hi;
  size_t i = lower_bound(&c->words, lo + 1), j = lower_bound(&c->words, hi);
  /* count(words[k], end) decreases with k: find the first k in [i, j) that fits */
  while (i < j) {
    size_t mid = i + (j - i) / 2;
    if (count(c, c->words.v[mid], end) <= budget) j = mid;
    else i = mid + 1;
  }
  return i < lower_bound(&c->words, hi) ? c->words.v[i] : hi;
}

/* Largest piece index j >= i with count(s, pieces[j].b) <= max; i-1 if none. */
static size_t last_fit(ctx *c, size_t s, size_t i) {
  const range *p = c->pieces.v;
  size_t n = c->pieces.n, max = c->o->max_tokens;
  if (count(c, s, p[i].b) > max) return i - 1;
  size_t good = i, step = 1;
  while (good + step < n && count(c, s, p[good + step].b) <= max) good += step, step *= 2;
  size_t bad = good + step < n ? good + step : n; /* first index known not to fit (or n) */
  while (bad - good > 1) {
    size_t mid = good + (bad - good) / 2;
    if (count(c, s, p[mid].b) <= max) good = mid;
    else bad = mid;
  }
  return good;
}

size_t hx_chunk_count_default(void *unused, const char *text, size_t len) {
  (void)unused;
  size_t n = 0, i = 0;
  int inword = 0;
  const unsigned char *s = (const unsigned char *)text;
  while (i < len) {
    uint32_t cp;
    size_t k = 1;
    if (s[i] < 0x80) cp = s[i];
    else if (s[i] >= 0xC0 && s[i] < 0xE0 && i + 1 < len) cp = (uint32_t)(s[i] & 0x1F) << 6 | (s[i + 1] & 0x3F), k = 2;
    else if (s[i] >= 0xE0 && s[i] < 0xF0 && i + 2 < len)
      cp = (uint32_t)(s[i] & 0x0F) << 12 | (uint32_t)(s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F), k = 3;
    else if (s[i] >= 0xF0 && i + 3 < len) cp = 0x10000, k = 4;
    else cp = 0xFFFD;
    i += k;
    int space = cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v' || cp == 0xA0 ||
                cp == 0x3000;
    int cjk = (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
              (cp >= 0xF900 && cp <= 0xFAFF);
    if (space) inword = 0;
    else if (cjk) n++, inword = 0;
    else if (!inword) n++, inword = 1;
  }
  return n;
}

void hx_chunk_list_release(hx_chunk_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) free(l->v[i].text);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

/* Code points in text[from..to), valid UTF-8. */
static size_t cps(const char *t, size_t from, size_t to) {
  size_t n = 0;
  for (size_t i = from; i < to; i++) n += ((unsigned char)t[i] & 0xC0) != 0x80;
  return n;
}

static int emit(ctx *c, const hx_doc *doc, hx_chunk_list *out, size_t *cap, size_t a, size_t b,
                size_t *blk, size_t cur[2], size_t cpc[2]) {
  if (out->n == *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    hx_chunk *nv = realloc(out->v, nc * sizeof *nv);
    if (!nv) return HX_ENOMEM;
    out->v = nv, *cap = nc;
  }
  hx_chunk *ch = &out->v[out->n];
  memset(ch, 0, sizeof *ch);
  ch->text = malloc(b - a + 1);
  if (!ch->text) return HX_ENOMEM;
  memcpy(ch->text, c->text + a, b - a);
  ch->text[b - a] = '\0';
  ch->len = b - a;
  ch->index = out->n;
  snprintf(ch->id, sizeof ch->id, "chunk-%04zu", out->n);
  ch->byte_start = a, ch->byte_end = b;
  /* starts and ends only move forward: two running cursors */
  cpc[0] += cps(c->text, cur[0], a), cur[0] = a;
  cpc[1] += cps(c->text, cur[1], b), cur[1] = b;
  ch->cp_start = cpc[0], ch->cp_end = cpc[1];
  ch->tokens = count(c, a, b);
  while (*blk + 1 < doc->nblocks && doc->blocks[*blk + 1].offset <= a) (*blk)++;
  ch->page = doc->blocks[*blk].page;
  ch->start_ms = ch->end_ms = -1;
  for (size_t k = *blk; k < doc->nblocks && doc->blocks[k].offset < b; k++) {
    const hx_block *bl = &doc->blocks[k];
    if (bl->start_ms >= 0 && (ch->start_ms < 0 || bl->start_ms < ch->start_ms)) ch->start_ms = bl->start_ms;
    if (bl->end_ms >= 0 && bl->end_ms > ch->end_ms) ch->end_ms = bl->end_ms;
  }
  out->n++;
  return 0;
}

int hx_chunk_doc(const hx_doc *doc, const hx_chunk_opts *opts, hx_chunk_list *out, hx_err *err) {
  out->v = NULL, out->n = 0;
  if (!doc || !doc->nblocks || !opts || !opts->max_tokens)
    return hx_err_set(err, HX_EINVAL, "chunking needs a document with text and max_tokens > 0");
  hx_chunk_opts o = *opts;
  if (!o.count) o.count = hx_chunk_count_default;
  if (o.overlap_tokens == HX_CHUNK_OVERLAP_DEFAULT) o.overlap_tokens = o.max_tokens * 15 / 100;
  if (o.overlap_tokens >= o.max_tokens)
    return hx_err_set(err, HX_EINVAL, "overlap_tokens (%zu) must be below max_tokens (%zu)", o.overlap_tokens,
                      o.max_tokens);
  ctx c = {0};
  c.text = doc->text;
  c.o = &o;
  int rc = 0;
  size_t cap = 0;
  UErrorCode st = U_ZERO_ERROR;
  c.sent = ubrk_open(UBRK_SENTENCE, o.locale ? o.locale : "", NULL, 0, &st);
  if (U_SUCCESS(st)) c.word = ubrk_open(UBRK_WORD, o.locale ? o.locale : "", NULL, 0, &st);
  if (U_FAILURE(st)) {
    rc = hx_err_set(err, HX_EINVAL, "ICU break iterator: %s", u_errorName(st));
    goto out;
  }
  /* pass 1: pieces and word starts */
  for (size_t i = 0; i < doc->nblocks && !rc; i++) {
    size_t a = doc->blocks[i].offset, b = a + doc->blocks[i].len;
    if (o.overlap_tokens && (rc = word_starts(&c, a, b))) break;
    rc = count(&c, a, b) <= o.max_tokens ? push_range(&c.pieces, a, b) : split(&c, a, b, 1);
  }
  if (rc) {
    rc = hx_err_set(err, rc, "chunking failed: %s", hx_strerror(rc));
    goto out;
  }
  /* pass 2: pack */
  size_t blk = 0, cur[2] = {0, 0}, cpc[2] = {0, 0};
  size_t i = 0, s = c.pieces.n ? c.pieces.v[0].a : 0;
  while (i < c.pieces.n) {
    size_t j = last_fit(&c, s, i);
    while (j == i - 1 && s < c.pieces.v[i].a) { /* overlap + next piece too big: shrink the overlap */
      size_t k = lower_bound(&c.words, s + 1);
      s = k < c.words.n && c.words.v[k] < c.pieces.v[i].a ? c.words.v[k] : c.pieces.v[i].a;
      j = last_fit(&c, s, i);
    }
    if (j == i - 1) j = i; /* one code point over the limit by itself: it is a chunk alone */
    size_t e = c.pieces.v[j].b;
    if ((rc = emit(&c, doc, out, &cap, s, e, &blk, cur, cpc))) {
      rc = hx_err_set(err, rc, "out of memory");
      goto out;
    }
    i = j + 1;
    if (i < c.pieces.n) {
      size_t os = overlap_start(&c, s, e, e, o.overlap_tokens);
      s = os < e ? os : c.pieces.v[i].a;
    }
  }
out:
  if (rc) hx_chunk_list_release(out);
  if (c.sent) ubrk_close(c.sent);
  if (c.word) ubrk_close(c.word);
  free(c.u16);
  free(c.map);
  free(c.pieces.v);
  free(c.words.v);
  return rc;
}
