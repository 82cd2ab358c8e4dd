/*
 * extract_int.h - private to src/extract: the document builder every format
 * extractor appends to, and the per-format entry points.
 *
 * A builder collects blocks under the limits (max_blocks, max_text_bytes);
 * hx__doc_finish joins them into hx_doc.text with "\n\n" and sets offsets.
 * Blocks that are empty after trimming whitespace are dropped, so an
 * extractor can add paragraphs without checking.
 */
#ifndef HX_EXTRACT_EXTRACT_INT_H
#define HX_EXTRACT_EXTRACT_INT_H

#include "extract/extract.h"
#include "util/buf.h"

typedef struct hx__docb {
  hx_doc *doc;                  /* owned until hx__doc_finish hands it out */
  size_t cap;                   /* allocated blocks */
  size_t text_bytes;            /* sum of block lengths so far */
  const hx_extract_limits *lim; /* borrowed */
} hx__docb;

int hx__docb_init(hx__docb *b, const char *type, const hx_extract_limits *lim, hx_err *err);
void hx__docb_release(hx__docb *b); /* frees an unfinished doc */
/* Copy text (len bytes, trimmed here; NULs become spaces, invalid UTF-8
 * bytes U+FFFD). */
int hx__docb_add(hx__docb *b, const char *text, size_t len, uint32_t page, int64_t start_ms,
                 int64_t end_ms, hx_err *err);
int hx__docb_title(hx__docb *b, const char *text, size_t len, hx_err *err);
/* Joins the blocks; fails with HX_EINVAL "no text" when there is none. */
int hx__docb_finish(hx__docb *b, hx_doc **out, hx_err *err);

/* Validate UTF-8; returns the offset of the first bad byte or len if valid. */
size_t hx__utf8_check(const char *s, size_t len);
/* Append code point cp as UTF-8 to out. */
int hx__utf8_put(hx_buf *out, uint32_t cp);

/* Per-format extractors. data/len borrowed. Text formats get UTF-8 already
 * decoded and validated (BOM removed). */
int hx__extract_pdf(const void *data, size_t len, const hx_extract_limits *lim, hx_doc **out, hx_err *err);
int hx__extract_docx(const void *data, size_t len, const hx_extract_limits *lim, hx_doc **out, hx_err *err);
int hx__extract_html(const void *data, size_t len, const hx_extract_limits *lim, hx_doc **out, hx_err *err);
int hx__extract_text(const char *s, size_t len, int markdown, const hx_extract_limits *lim, hx_doc **out,
                     hx_err *err);
int hx__extract_srt(const char *s, size_t len, const hx_extract_limits *lim, hx_doc **out, hx_err *err);
int hx__extract_vtt(const char *s, size_t len, const hx_extract_limits *lim, hx_doc **out, hx_err *err);

#endif
