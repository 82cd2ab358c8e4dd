/* chunk: token limits, overlaps, boundaries, offsets, pages and cue times,
 * checked on generated fixtures with the default counter and with a
 * byte-based counter (the chunker must not depend on one tokenizer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chunk/chunk.h"
#include "unit/extract/fx.h"

static hx_doc *load(const char *name) {
  hx_doc *d = NULL;
  hx_err e = {0};
  assert_int_equal(hx_extract_file(fx(name), NULL, NULL, &d, &e), 0);
  return d;
}

static hx_doc *from_text(const char *s) {
  hx_doc *d = NULL;
  hx_err e = {0};
  assert_int_equal(hx_extract_mem(s, strlen(s), "text", NULL, NULL, &d, &e), 0);
  return d;
}

/* a different tokenizer: one token per 3 bytes, rounded up */
static size_t bytes3(void *ctx, const char *t, size_t n) {
  (void)ctx;
  (void)t;
  return (n + 2) / 3;
}

static int ws(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

/* The invariants every chunking must keep; returns the number of overlaps
 * exactly equal to the configured overlap. */
static size_t check(const hx_doc *d, const hx_chunk_opts *o, hx_chunk_list *l) {
  hx_err e = {0};
  int rc = hx_chunk_doc(d, o, l, &e);
  if (rc) fprintf(stderr, "chunk: %s\n", e.msg);
  assert_int_equal(rc, 0);
  assert_true(l->n > 0);
  hx_token_count_fn cnt = o->count ? o->count : hx_chunk_count_default;
  size_t ov = o->overlap_tokens == HX_CHUNK_OVERLAP_DEFAULT ? o->max_tokens * 15 / 100 : o->overlap_tokens;
  size_t exact = 0, covered = 0; /* doc->text[0..covered) has been covered */
  for (size_t i = 0; i < l->n; i++) {
    hx_chunk *c = &l->v[i];
    char id[32];
    snprintf(id, sizeof id, "chunk-%04zu", i);
    assert_string_equal(c->id, id);
    assert_int_equal(c->index, i);
    assert_true(c->byte_start < c->byte_end && c->byte_end <= d->text_len);
    assert_int_equal(c->len, c->byte_end - c->byte_start);
    assert_memory_equal(c->text, d->text + c->byte_start, c->len);
    /* never split a UTF-8 sequence */
    assert_true(((unsigned char)d->text[c->byte_start] & 0xC0) != 0x80);
    assert_true(c->byte_end == d->text_len || ((unsigned char)d->text[c->byte_end] & 0xC0) != 0x80);
    /* token limit, by the caller's counter */
    size_t t = cnt(o->ctx, c->text, c->len);
    if (t > o->max_tokens) fprintf(stderr, "%s has %zu tokens > %zu\n", c->id, t, o->max_tokens);
    assert_true(t <= o->max_tokens);
    assert_int_equal(c->tokens, t);
    /* code point offsets */
    size_t cp = 0;
    for (size_t k = 0; k < c->byte_start; k++) cp += ((unsigned char)d->text[k] & 0xC0) != 0x80;
    assert_int_equal(c->cp_start, cp);
    for (size_t k = c->byte_start; k < c->byte_end; k++) cp += ((unsigned char)d->text[k] & 0xC0) != 0x80;
    assert_int_equal(c->cp_end, cp);
    /* nothing but whitespace between chunks: every word lands in a chunk */
    for (size_t k = covered; k < c->byte_start; k++) assert_true(ws(d->text[k]));
    if (i) {
      hx_chunk *p = &l->v[i - 1];
      assert_true(c->byte_start > p->byte_start && c->byte_end > p->byte_end);
      if (c->byte_start < p->byte_end) {
        size_t got = cnt(o->ctx, d->text + c->byte_start, p->byte_end - c->byte_start);
        assert_true(got <= ov); /* an overlap is the end of the previous chunk, within budget */
        exact += got == ov;
      }
    }
    covered = c->byte_end;
    /* page: of the block the chunk starts in; cue times: span of the cues it touches */
    size_t b = 0;
    while (b + 1 < d->nblocks && d->blocks[b + 1].offset <= c->byte_start) b++;
    assert_int_equal(c->page, d->blocks[b].page);
    int64_t s = -1, en = -1;
    for (size_t k = 0; k < d->nblocks; k++) {
      const hx_block *bl = &d->blocks[k];
      if (bl->offset + bl->len <= c->byte_start || bl->offset >= c->byte_end || bl->start_ms < 0) continue;
      if (s < 0 || bl->start_ms < s) s = bl->start_ms;
      if (bl->end_ms > en) en = bl->end_ms;
    }
    assert_int_equal(c->start_ms, s);
    assert_int_equal(c->end_ms, en);
  }
  for (size_t k = covered; k < d->text_len; k++) assert_true(ws(d->text[k]));
  return exact;
}

/* every string of the array appears in some chunk */
static void all_in_chunks(const hx_chunk_list *l, const char *word) {
  for (size_t i = 0; i < l->n; i++)
    if (strstr(l->v[i].text, word)) return;
  fprintf(stderr, "'%s' is in no chunk\n", word);
  fail();
}

static void test_english(void **st) {
  hx_doc *d = load("en.txt");
  size_t sizes[][2] = {{40, 6}, {25, 0}, {80, 12}, {200, HX_CHUNK_OVERLAP_DEFAULT}};
  for (size_t s = 0; s < 4; s++) {
    hx_chunk_opts o = {sizes[s][0], sizes[s][1], NULL, NULL, "en"};
    hx_chunk_list l;
    size_t exact = check(d, &o, &l);
    size_t ov = o.overlap_tokens == HX_CHUNK_OVERLAP_DEFAULT ? o.max_tokens * 15 / 100 : o.overlap_tokens;
    if (ov && l.n > 1) assert_true(exact * 10 >= (l.n - 1) * 8); /* overlaps are as configured (80%+ exact) */
    if (!ov)
      for (size_t i = 1; i < l.n; i++) assert_true(l.v[i].byte_start >= l.v[i - 1].byte_end);
    /* every sentence ends a chunk or is inside one: chunks end at sentence ends
     * (no sentence of the fixture exceeds 14 words) */
    for (size_t i = 0; i < l.n; i++) assert_non_null(strchr(".!?", l.v[i].text[l.v[i].len - 1]));
    /* the generator's unique tokens w0000 ... */
    json_t *paras = json_object_get(json_object_get(fx_expect, "en"), "paragraphs");
    size_t k, words = 0;
    json_t *p;
    json_array_foreach(paras, k, p) {
      for (const char *w = strstr(json_string_value(p), "w0"); w; w = strstr(w + 1, "w0")) {
        char tok[8];
        memcpy(tok, w, 5);
        tok[5] = '\0';
        all_in_chunks(&l, tok);
        words++;
      }
    }
    assert_true(words >= 60);
    /* small paragraphs are packed whole: with a big limit a chunk holds several */
    if (o.max_tokens == 200) assert_non_null(strstr(l.v[0].text, "\n\n"));
    hx_chunk_list_release(&l);
  }
  hx_doc_free(d);
}

static void test_cjk(void **st) {
  hx_doc *d = load("cjk.txt");
  hx_chunk_opts o = {20, 3, NULL, NULL, NULL}; /* the longest sentence has 17 tokens */
  hx_chunk_list l;
  check(d, &o, &l);
  assert_true(l.n > 3);
  /* chunks end at sentence ends (。！. !) in Korean, Japanese and Chinese */
  for (size_t i = 0; i < l.n; i++) {
    const char *end = l.v[i].text + l.v[i].len;
    int ok = end[-1] == '.' || end[-1] == '!' || (l.v[i].len >= 3 && (!strcmp(end - 3, "。") || !strcmp(end - 3, "！")));
    if (!ok) fprintf(stderr, "chunk %zu ends mid-sentence: %s\n", i, l.v[i].text);
    assert_true(ok);
  }
  hx_chunk_list_release(&l);
  /* the byte-based counter, tight: word and character splits, still UTF-8 safe */
  hx_chunk_opts b = {5, 1, bytes3, NULL, "ja"};
  check(d, &b, &l);
  hx_chunk_list_release(&l);
  hx_doc_free(d);
}

static void test_long_sentence_and_word(void **st) {
  /* one 300-word sentence: cut at words */
  char *s = malloc(4000);
  size_t n = 0;
  for (int i = 0; i < 300; i++) n += (size_t)sprintf(s + n, "%sw%03d", i ? " " : "", i);
  hx_doc *d = from_text(s);
  hx_chunk_opts o = {50, 5, NULL, NULL, NULL};
  hx_chunk_list l;
  check(d, &o, &l);
  assert_true(l.n >= 7);
  for (size_t i = 0; i < l.n; i++) assert_int_equal(l.v[i].tokens, i + 1 < l.n ? 50 : l.v[i].tokens);
  hx_chunk_list_release(&l);
  hx_doc_free(d);
  /* one 1000-character Hangul "word" with a byte counter: cut at code points */
  size_t m = 0;
  for (int i = 0; i < 1000; i++) m += (size_t)sprintf(s + m, "%s", "한");
  (void)n;
  d = from_text(s);
  hx_chunk_opts b = {16, 2, bytes3, NULL, "ko"};
  check(d, &b, &l);
  for (size_t i = 0; i < l.n; i++) assert_int_equal(l.v[i].len % 3, 0);
  hx_chunk_list_release(&l);
  hx_doc_free(d);
  free(s);
}

static void test_pages_and_cues(void **st) {
  hx_doc *d = load("big.pdf");
  hx_chunk_opts o = {100, 15, NULL, NULL, NULL};
  hx_chunk_list l;
  check(d, &o, &l);
  uint32_t prev = 0;
  for (size_t i = 0; i < l.n; i++) {
    assert_true(l.v[i].page >= prev && l.v[i].page >= 1);
    prev = l.v[i].page;
    /* a chunk that starts with a page's first line carries that page */
    unsigned pg;
    if (sscanf(l.v[i].text, "Page %u of", &pg) == 1) assert_int_equal(l.v[i].page, pg);
  }
  json_t *big = json_object_get(fx_expect, "big_pdf");
  uint32_t pages = (uint32_t)json_integer_value(json_object_get(big, "pages"));
  assert_true(prev == pages || prev == pages - 1); /* the last chunk starts on the last page or the one before */
  assert_non_null(strstr(l.v[l.n - 1].text, json_string_value(json_object_get(big, "last_line_token"))));
  hx_chunk_list_release(&l);
  hx_doc_free(d);
  const char *subs[] = {"talk.srt", "talk.vtt"};
  for (int k = 0; k < 2; k++) {
    d = load(subs[k]);
    hx_chunk_opts c = {6, 1, NULL, NULL, NULL};
    check(d, &c, &l);
    json_t *cues = json_object_get(fx_expect, "cues");
    assert_int_equal(l.v[0].start_ms, json_integer_value(json_array_get(json_array_get(cues, 0), 0)));
    assert_int_equal(l.v[l.n - 1].end_ms,
                     json_integer_value(json_array_get(json_array_get(cues, json_array_size(cues) - 1), 1)));
    hx_chunk_list_release(&l);
    hx_doc_free(d);
  }
}

static void test_deterministic_and_errors(void **st) {
  hx_doc *d = load("report.docx");
  hx_chunk_opts o = {8, HX_CHUNK_OVERLAP_DEFAULT, NULL, NULL, NULL};
  hx_chunk_list a, b;
  check(d, &o, &a);
  check(d, &o, &b);
  assert_int_equal(a.n, b.n);
  for (size_t i = 0; i < a.n; i++) {
    assert_string_equal(a.v[i].text, b.v[i].text);
    assert_int_equal(a.v[i].byte_start, b.v[i].byte_start);
  }
  hx_chunk_list_release(&a);
  hx_chunk_list_release(&b);
  hx_err e = {0};
  hx_chunk_opts bad = {10, 10, NULL, NULL, NULL};
  assert_int_equal(hx_chunk_doc(d, &bad, &a, &e), HX_EINVAL);
  assert_non_null(strstr(e.msg, "overlap_tokens"));
  bad.max_tokens = 0;
  assert_int_equal(hx_chunk_doc(d, &bad, &a, &e), HX_EINVAL);
  hx_chunk_list_release(&a);
  hx_doc_free(d);
}

/* regression (fuzz_extract_chunk hang): a code point that alone counts more
 * than max_tokens becomes a chunk of its own instead of looping for ever */
static size_t bytes2(void *ctx, const char *t, size_t n) {
  (void)ctx;
  (void)t;
  return (n + 1) / 2;
}

static void test_code_point_over_limit(void **st) {
  hx_doc *d = from_text("\xea\xb0\x80\xeb\x82\x98 ab"); /* 가나 ab */
  hx_chunk_opts o = {1, 0, bytes2, NULL, NULL};
  hx_chunk_list l;
  hx_err e = {0};
  assert_int_equal(hx_chunk_doc(d, &o, &l, &e), 0);
  assert_int_equal(l.n, 3); /* "ab" is one token by this counter */
  assert_string_equal(l.v[0].text, "\xea\xb0\x80");
  assert_string_equal(l.v[1].text, "\xeb\x82\x98");
  assert_string_equal(l.v[2].text, "ab");
  hx_chunk_list_release(&l);
  hx_doc_free(d);
}

static void test_default_counter(void **st) {
  assert_int_equal(hx_chunk_count_default(NULL, "", 0), 0);
  assert_int_equal(hx_chunk_count_default(NULL, "  hello,  world! ", 17), 2);
  assert_int_equal(hx_chunk_count_default(NULL, "東京は大きい", strlen("東京は大きい")), 6);
  assert_int_equal(hx_chunk_count_default(NULL, "한국어 문장입니다.", strlen("한국어 문장입니다.")), 2);
  assert_int_equal(hx_chunk_count_default(NULL, "abc日本xyz", strlen("abc日本xyz")), 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_english),        cmocka_unit_test(test_cjk),
    cmocka_unit_test(test_long_sentence_and_word), cmocka_unit_test(test_pages_and_cues),
    cmocka_unit_test(test_deterministic_and_errors), cmocka_unit_test(test_default_counter),
    cmocka_unit_test(test_code_point_over_limit),
  };
  return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
