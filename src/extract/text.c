/*
 * text.c - plain text and Markdown: paragraphs are separated by blank lines.
 * The input is already UTF-8 (decoded and validated by extract.c). Markdown
 * keeps its text as written, except that ATX heading lines ("# Title") are
 * blocks of their own with the markers removed, and the first heading is the
 * document's title; fenced code blocks stay whole (blank lines inside do not
 * split them).
 */
#include "extract/extract_int.h"

#include <string.h>

static int heading_level(const char *l, size_t n) {
  size_t i = 0;
  while (i < n && i < 7 && l[i] == '#') i++;
  if (i == 0 || i > 6) return 0;
  return (i == n || l[i] == ' ' || l[i] == '\t') ? (int)i : 0;
}

static int blank(const char *l, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (l[i] != ' ' && l[i] != '\t') return 0;
  return 1;
}

int hx__extract_text(const char *s, size_t len, int markdown, const hx_extract_limits *lim, hx_doc **out,
                     hx_err *err) {
  hx__docb b;
  hx_buf para;
  hx_buf_init(&para, lim->max_text_bytes);
  int rc = hx__docb_init(&b, markdown ? "markdown" : "text", lim, err);
  if (rc) return rc;
  int fence = 0;
  size_t pos = 0;
  while (pos <= len) {
    const char *l = s + pos;
    const char *nl = memchr(l, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - l) : len - pos;
    pos += n + 1;
    if (n && l[n - 1] == '\r') n--;
    int flush = 0, own = 0;
    if (markdown && n >= 3 && (memcmp(l, "```", 3) == 0 || memcmp(l, "~~~", 3) == 0)) fence = !fence;
    if (!fence && blank(l, n)) flush = 1;
    int h = (markdown && !fence) ? heading_level(l, n) : 0;
    if (h) {
      flush = own = 1;
      l += h, n -= (size_t)h;
      while (n && l[n - 1] == '#') n--; /* closing #s */
    }
    if (flush && para.len) {
      if ((rc = hx__docb_add(&b, para.data, para.len, 0, -1, -1, err))) goto out;
      hx_buf_reset(&para);
    }
    if (own) {
      if ((rc = hx__docb_add(&b, l, n, 0, -1, -1, err))) goto out;
      if ((rc = hx__docb_title(&b, l, n, err))) goto out;
    } else if (!blank(l, n) || fence) {
      if ((para.len && (rc = hx_buf_add(&para, "\n", 1))) || (rc = hx_buf_add(&para, l, n))) {
        rc = hx_err_set(err, rc, rc == HX_ETOOBIG ? "text exceeds max_text_bytes" : "out of memory");
        goto out;
      }
    }
    if (!nl) break;
  }
  if (para.len && (rc = hx__docb_add(&b, para.data, para.len, 0, -1, -1, err))) goto out;
  rc = hx__docb_finish(&b, out, err);
out:
  hx_buf_release(&para);
  hx__docb_release(&b);
  return rc;
}
