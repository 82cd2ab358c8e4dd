/* extract: every format against what the fixture generator wrote, and every
 * kind of bad input against its precise error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "extract/extract.h"
#include "extract/extract_int.h" /* hx__utf8_check */
#include "unit/extract/fx.h"

static hx_doc *load(const char *name, const char *decl) {
  hx_doc *d = NULL;
  hx_err e = {0};
  int rc = hx_extract_file(fx(name), decl, NULL, &d, &e);
  if (rc) fprintf(stderr, "%s: %d %s\n", name, rc, e.msg);
  assert_int_equal(rc, 0);
  assert_non_null(d);
  return d;
}

/* extraction must fail with code and a message containing want */
static void fails(const char *name, const char *decl, const hx_extract_limits *lim, int code, const char *want) {
  hx_doc *d = (hx_doc *)1;
  hx_err e = {0};
  int rc = hx_extract_file(fx(name), decl, lim, &d, &e);
  if (rc != code || !strstr(e.msg, want)) fprintf(stderr, "%s: got %d '%s', want %d '%s'\n", name, rc, e.msg, code, want);
  assert_int_equal(rc, code);
  assert_null(d);
  assert_non_null(strstr(e.msg, want));
}

/* blocks are exactly the expected strings; offsets point into doc->text */
static void check_blocks(const hx_doc *d, json_t *want) {
  assert_int_equal(d->nblocks, json_array_size(want));
  for (size_t i = 0; i < d->nblocks; i++) {
    assert_string_equal(d->blocks[i].text, json_string_value(json_array_get(want, i)));
    assert_int_equal(strlen(d->blocks[i].text), d->blocks[i].len);
    assert_memory_equal(d->text + d->blocks[i].offset, d->blocks[i].text, d->blocks[i].len);
    if (i) assert_int_equal(d->blocks[i].offset, d->blocks[i - 1].offset + d->blocks[i - 1].len + 2);
  }
  assert_int_equal(d->text_len, strlen(d->text));
}

static void test_text(void **st) {
  hx_doc *d = load("en.txt", NULL);
  assert_string_equal(d->type, "text");
  assert_null(d->title);
  check_blocks(d, json_object_get(json_object_get(fx_expect, "en"), "paragraphs"));
  for (size_t i = 0; i < d->nblocks; i++) {
    assert_int_equal(d->blocks[i].page, 0);
    assert_int_equal(d->blocks[i].start_ms, -1);
  }
  hx_doc_free(d);
  const char *cjk[] = {"cjk.txt", "cjk_utf16le.txt", "cjk_utf16be.txt"};
  for (int i = 0; i < 3; i++) {
    d = load(cjk[i], NULL);
    assert_string_equal(d->type, "text");
    check_blocks(d, json_object_get(json_object_get(fx_expect, "cjk"), "paragraphs"));
    hx_doc_free(d);
  }
  d = load("guide.md", NULL); /* markdown by the .md name */
  assert_string_equal(d->type, "markdown");
  assert_string_equal(d->title, json_string_value(json_object_get(json_object_get(fx_expect, "md"), "title")));
  check_blocks(d, json_object_get(json_object_get(fx_expect, "md"), "blocks"));
  hx_doc_free(d);
}

static void test_text_errors(void **st) {
  fails("trunc_utf16.txt", NULL, NULL, HX_EINVAL, "truncated UTF-16");
  char want[64];
  snprintf(want, sizeof want, "invalid UTF-8 at byte offset %lld",
           (long long)json_integer_value(json_object_get(fx_expect, "bad_utf8_offset")));
  fails("bad_utf8.txt", NULL, NULL, HX_EINVAL, want);
  fails("empty.txt", NULL, NULL, HX_EINVAL, "empty file");
  fails("empty.txt", "text/plain", NULL, HX_EINVAL, "empty file");
  fails("no-such-file.txt", NULL, NULL, HX_ENOENT, "cannot open");
  /* a BOM alone is empty too */
  hx_doc *d = NULL;
  hx_err e = {0};
  assert_int_equal(hx_extract_mem("\xEF\xBB\xBF", 3, NULL, NULL, NULL, &d, &e), HX_EINVAL);
  assert_int_equal(hx_extract_mem("\xFF\xFE", 2, NULL, NULL, NULL, &d, &e), HX_EINVAL);
  assert_int_equal(hx_extract_mem("  \n\n \t ", 7, NULL, NULL, NULL, &d, &e), HX_EINVAL);
  assert_non_null(strstr(e.msg, "no text"));
  /* lone surrogate in the middle */
  assert_int_equal(hx_extract_mem("\xFF\xFE" "a\0\x00\xDC" "b\0", 8, NULL, NULL, NULL, &d, &e), HX_EINVAL);
  assert_non_null(strstr(e.msg, "surrogate"));
  /* unknown binary */
  assert_int_equal(hx_extract_mem("\x89PNG\r\n\x1a\n\0\0", 10, NULL, NULL, NULL, &d, &e), HX_EUNSUPP);
}

static void check_cues(const hx_doc *d) {
  json_t *cues = json_object_get(fx_expect, "cues");
  assert_int_equal(d->nblocks, json_array_size(cues));
  for (size_t i = 0; i < d->nblocks; i++) {
    json_t *c = json_array_get(cues, i);
    assert_int_equal(d->blocks[i].start_ms, json_integer_value(json_array_get(c, 0)));
    assert_int_equal(d->blocks[i].end_ms, json_integer_value(json_array_get(c, 1)));
    assert_string_equal(d->blocks[i].text, json_string_value(json_array_get(c, 2)));
    assert_int_equal(d->blocks[i].page, 0);
  }
}

static void test_subtitles(void **st) {
  hx_doc *d = load("talk.srt", NULL);
  assert_string_equal(d->type, "srt");
  check_cues(d);
  hx_doc_free(d);
  d = load("talk.vtt", NULL);
  assert_string_equal(d->type, "vtt");
  check_cues(d);
  hx_doc_free(d);
  char want[64];
  snprintf(want, sizeof want, "SRT line %lld: malformed timestamp",
           (long long)json_integer_value(json_object_get(fx_expect, "bad_srt_line")));
  fails("bad.srt", NULL, NULL, HX_EINVAL, want);
  snprintf(want, sizeof want, "WebVTT line %lld: malformed timestamp",
           (long long)json_integer_value(json_object_get(fx_expect, "bad_vtt_line")));
  fails("bad.vtt", NULL, NULL, HX_EINVAL, want);
  fails("en.txt", "srt", NULL, HX_EINVAL, "SRT line 1");  /* declared srt must be SRT */
  fails("en.txt", "text/vtt", NULL, HX_EINVAL, "WebVTT line 1: missing WEBVTT header");
  hx_err e = {0};
  hx_doc *x = NULL;
  const char *back = "1\n00:00:05,000 --> 00:00:04,000\nbackwards\n";
  assert_int_equal(hx_extract_mem(back, strlen(back), NULL, NULL, NULL, &x, &e), HX_EINVAL);
  assert_string_equal(e.msg, "SRT line 2: cue ends before it starts");
}

static void test_html(void **st) {
  hx_doc *d = load("page.html", NULL);
  json_t *h = json_object_get(fx_expect, "html");
  assert_string_equal(d->type, "html");
  assert_string_equal(d->title, json_string_value(json_object_get(h, "title")));
  check_blocks(d, json_object_get(h, "blocks"));
  json_t *v;
  size_t i;
  json_array_foreach(json_object_get(h, "absent"), i, v) assert_null(strstr(d->text, json_string_value(v)));
  hx_doc_free(d);
}

static void test_docx(void **st) {
  hx_doc *d = load("report.docx", NULL);
  json_t *x = json_object_get(fx_expect, "docx");
  assert_string_equal(d->type, "docx");
  assert_string_equal(d->title, json_string_value(json_object_get(x, "title")));
  check_blocks(d, json_object_get(x, "blocks"));
  hx_doc_free(d);
  fails("bomb.docx", NULL, NULL, HX_ETOOBIG, "limit max_ratio");
  hx_extract_limits lim;
  hx_extract_limits_default(&lim);
  lim.max_ratio = 1000000;
  lim.max_inflated_bytes = 1 << 20;
  fails("bomb.docx", NULL, &lim, HX_ETOOBIG, "limit max_inflated_bytes");
  hx_extract_limits_default(&lim);
  lim.max_entries = 3;
  fails("report.docx", NULL, &lim, HX_ETOOBIG, "limit max_entries");
  fails("notdocx.zip", NULL, NULL, HX_EUNSUPP, "not a DOCX");
}

static void test_pdf(void **st) {
  hx_doc *d = load("small.pdf", NULL);
  json_t *x = json_object_get(fx_expect, "pdf");
  assert_string_equal(d->type, "pdf");
  assert_string_equal(d->title, json_string_value(json_object_get(x, "title")));
  json_t *pages = json_object_get(x, "pages");
  assert_int_equal(d->nblocks, json_array_size(pages));
  for (size_t i = 0; i < d->nblocks; i++) {
    assert_int_equal(d->blocks[i].page, i + 1);
    /* the words of the page, in order */
    char *copy = strdup(d->blocks[i].text), *save = NULL;
    size_t k = 0;
    for (char *w = strtok_r(copy, " \n\t", &save); w; w = strtok_r(NULL, " \n\t", &save), k++)
      assert_string_equal(w, json_string_value(json_array_get(json_array_get(pages, i), k)));
    assert_int_equal(k, json_array_size(json_array_get(pages, i)));
    free(copy);
  }
  hx_doc_free(d);
  /* Japanese and Korean pages (CID fonts, needs poppler-data) */
  d = load("cjk.pdf", NULL);
  json_t *cjk = json_object_get(fx_expect, "cjk_pdf");
  assert_int_equal(d->nblocks, json_array_size(cjk));
  for (size_t i = 0; i < d->nblocks; i++) {
    assert_int_equal(d->blocks[i].page, i + 1);
    assert_string_equal(d->blocks[i].text, json_string_value(json_array_get(cjk, i)));
  }
  hx_doc_free(d);
  fails("encrypted.pdf", NULL, NULL, HX_EUNSUPP, "PDF is encrypted");
  fails("corrupt.pdf", NULL, NULL, HX_EINVAL, "corrupt PDF");
}

static void test_big_pdf(void **st) {
  json_t *x = json_object_get(fx_expect, "big_pdf");
  size_t pages = (size_t)json_integer_value(json_object_get(x, "pages"));
  hx_doc *d = load("big.pdf", NULL);
  assert_int_equal(d->nblocks, pages);
  for (size_t i = 0; i < d->nblocks; i++) {
    char want[64];
    snprintf(want, sizeof want, "Page %zu of the large document.", i + 1);
    assert_int_equal(d->blocks[i].page, i + 1);
    assert_non_null(strstr(d->blocks[i].text, want));
  }
  assert_non_null(strstr(d->blocks[pages - 1].text, json_string_value(json_object_get(x, "last_line_token"))));
  hx_doc_free(d);
  hx_extract_limits lim;
  hx_extract_limits_default(&lim);
  lim.max_pages = (unsigned)pages - 1;
  char want[80];
  snprintf(want, sizeof want, "PDF has %zu pages, limit max_pages is %zu", pages, pages - 1);
  fails("big.pdf", NULL, &lim, HX_ETOOBIG, want);
}

static void test_declared_and_limits(void **st) {
  fails("small.pdf", "text/plain", NULL, HX_EUNSUPP, "declared type 'text' but the content is pdf");
  fails("en.txt", "application/pdf", NULL, HX_EUNSUPP, "declared type 'pdf' but the content is text");
  fails("report.docx", "pdf", NULL, HX_EUNSUPP, "declared type 'pdf' but the content is docx");
  fails("small.pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", NULL, HX_EUNSUPP,
        "declared type 'docx' but the content is pdf");
  fails("en.txt", "image/png", NULL, HX_EUNSUPP, "unsupported declared type 'image/png'");
  /* within the textual family the declaration wins */
  hx_doc *d = load("talk.srt", "text/plain; charset=utf-8");
  assert_string_equal(d->type, "text");
  hx_doc_free(d);
  d = load("en.txt", "text/markdown");
  assert_string_equal(d->type, "markdown");
  hx_doc_free(d);
  d = load("small.pdf", "application/octet-stream");
  assert_string_equal(d->type, "pdf");
  hx_doc_free(d);
  hx_extract_limits lim;
  hx_extract_limits_default(&lim);
  lim.max_input_bytes = 100;
  fails("en.txt", NULL, &lim, HX_ETOOBIG, "limit max_input_bytes is 100");
  hx_extract_limits_default(&lim);
  lim.max_blocks = 3;
  fails("en.txt", NULL, &lim, HX_ETOOBIG, "limit max_blocks");
  fails("talk.srt", NULL, &lim, HX_ETOOBIG, "limit max_blocks");
  fails("big.pdf", NULL, &lim, HX_ETOOBIG, "limit max_blocks");
  hx_extract_limits_default(&lim);
  lim.max_text_bytes = 200;
  fails("en.txt", NULL, &lim, HX_ETOOBIG, "max_text_bytes");
}

/* inputs the fuzz targets found crashing, kept as regressions */
static void test_fuzz_regressions(void **st) {
  hx_doc *d = NULL;
  hx_err e = {0};
  /* markdown heading as the whole file: the title was read past its end */
  assert_int_equal(hx_extract_mem("# T", 3, NULL, "x.md", NULL, &d, &e), 0);
  assert_string_equal(d->title, "T");
  hx_doc_free(d);
  assert_int_equal(hx_extract_mem("# \xEF\xBB\xBFT", 6, NULL, "x.md", NULL, &d, &e), 0);
  hx_doc_free(d);
  /* SRT error message printed an unterminated line */
  memset(e.msg, 'x', sizeof e.msg);
  assert_int_equal(hx_extract_mem("WE\001WBE", 6, "srt", NULL, NULL, &d, &e), HX_EINVAL);
  assert_string_equal(e.msg, "SRT line 1: expected a cue number, got 'WE\001WBE'");
  /* libxml2 passed invalid UTF-8 through: it becomes U+FFFD */
  const char *h = "<!DOCTYPE html><<=title>T &\xbd\xbd\xbd" "am]/htm\x7f>";
  assert_int_equal(hx_extract_mem(h, strlen(h), "text/html", NULL, NULL, &d, &e), 0);
  assert_int_equal(hx__utf8_check(d->text, d->text_len), d->text_len);
  assert_null(d->title); /* "<<=title>" is text, not a title */
  hx_doc_free(d);
}

static void test_sniff(void **st) {
  assert_null(hx_extract_sniff("", 0));
  assert_string_equal(hx_extract_sniff("%PDF-1.7\n", 9), "pdf");
  assert_string_equal(hx_extract_sniff("PK\x03\x04rest", 8), "docx");
  assert_string_equal(hx_extract_sniff("\xEF\xBB\xBFWEBVTT\n\n", 11), "vtt");
  assert_string_equal(hx_extract_sniff("<!-- c -->\n<!DOCTYPE HTML><p>x", 30), "html");
  assert_string_equal(hx_extract_sniff("  <html lang=en>", 16), "html");
  assert_string_equal(hx_extract_sniff("1\r\n00:00:01,000 --> 00:00:02,000\r\nhi\r\n", 38), "srt");
  assert_string_equal(hx_extract_sniff("12 monkeys\nare here", 19), "text");
  assert_string_equal(hx_extract_sniff("WEBVTTX", 7), "text");
  assert_string_equal(hx_extract_sniff("\xFF\xFEh\0", 4), "text");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_text),        cmocka_unit_test(test_text_errors), cmocka_unit_test(test_subtitles),
    cmocka_unit_test(test_html),        cmocka_unit_test(test_docx),        cmocka_unit_test(test_pdf),
    cmocka_unit_test(test_big_pdf),     cmocka_unit_test(test_declared_and_limits),
    cmocka_unit_test(test_sniff),       cmocka_unit_test(test_fuzz_regressions),
  };
  return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
