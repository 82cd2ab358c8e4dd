/*
 * extract.h - turn an uploaded document into plain UTF-8 text blocks.
 *
 * Users hand heimdex files, not segments. This module reads one file (PDF,
 * DOCX, HTML, plain text, Markdown, SRT, WebVTT), decides what it is by
 * sniffing its bytes (and the declared type, see below), and returns an
 * hx_doc: a list of blocks of UTF-8 text, each remembering where it came from
 * (PDF page, subtitle cue times) and where it sits in the document's
 * concatenated text. The chunker (chunk/chunk.h) works on that text.
 *
 * Contract
 * - Every extractor is bounded by hx_extract_limits: input bytes, PDF pages,
 *   inflated bytes and compression ratio of DOCX zip entries, number of
 *   blocks. Exceeding one is HX_ETOOBIG with a message naming the limit.
 * - Bad input is an error with a precise message, never a crash or a hang:
 *   HX_EUNSUPP (415) for content that is not a supported type or contradicts
 *   the declared type, HX_EINVAL (422) for a supported type with broken
 *   content (corrupt PDF, malformed subtitle timestamp with its line number,
 *   invalid UTF-8 with its byte offset, truncated UTF-16, empty file);
 *   an encrypted PDF is HX_EUNSUPP "PDF is encrypted".
 * - Sniffing: %PDF- in the first 1024 bytes -> pdf; "PK\3\4" -> a zip, which
 *   must hold word/document.xml (docx); otherwise the bytes are text: a UTF-8
 *   or UTF-16 BOM is honoured, then "WEBVTT" -> vtt, <!doctype html / <html /
 *   <head / <body near the start -> html, a first cue "N" + "hh:mm:ss,mmm -->"
 *   -> srt, else text (markdown when declared or when the path ends in .md).
 * - Declared type (a short name "pdf", "docx", "html", "text", "markdown",
 *   "srt", "vtt" or a MIME type, parameters ignored; NULL, "" and
 *   application/octet-stream mean "not declared"): binary and textual types
 *   never mix: declaring pdf/docx for text or a textual type for a PDF/ZIP is
 *   HX_EUNSUPP "declared type 'X' but the content is Y". Within the textual
 *   family the declaration wins (a .srt sent as text/plain is text; a file
 *   declared srt must parse as SRT or fail with the line number).
 * - Text encodings: UTF-8 (BOM optional) or UTF-16 LE/BE with a BOM. Invalid
 *   UTF-8 is an error (HX_EINVAL with the byte offset), not replaced: a
 *   legacy-encoded file would otherwise be indexed as mojibake silently.
 *   HTML is decoded by libxml2 (meta charset, BOM).
 */
#ifndef HX_EXTRACT_EXTRACT_H
#define HX_EXTRACT_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Caller-owned; fill with hx_extract_limits_default() then adjust. */
typedef struct hx_extract_limits {
  size_t max_input_bytes;    /* size of the file itself */
  unsigned max_pages;        /* PDF pages */
  size_t max_inflated_bytes; /* DOCX: bytes inflated from the zip, all entries read */
  unsigned max_ratio;        /* DOCX: inflated / compressed bytes of an entry */
  unsigned max_entries;      /* DOCX: zip entries */
  size_t max_blocks;         /* blocks in the result */
  size_t max_text_bytes;     /* bytes of extracted text */
} hx_extract_limits;

/* Defaults: 64 MiB input, 2000 pages, 256 MiB inflated, ratio 200, 10000
 * entries, 1,000,000 blocks, 256 MiB of text. */
void hx_extract_limits_default(hx_extract_limits *l);

typedef struct hx_block {
  char *text;       /* owned by the doc; UTF-8, NUL-terminated, no NUL inside */
  size_t len;       /* bytes */
  uint32_t page;    /* 1-based PDF page, 0 = none */
  int64_t start_ms; /* subtitle cue start, -1 = none */
  int64_t end_ms;   /* subtitle cue end, -1 = none */
  size_t offset;    /* byte offset of the block in hx_doc.text */
} hx_block;

/* A heap object: hx_extract_* make it, hx_doc_free frees it (and everything
 * it points to). */
typedef struct hx_doc {
  const char *type; /* static: "pdf","docx","html","text","markdown","srt","vtt" */
  char *title;      /* owned, NULL when the document has none */
  hx_block *blocks; /* owned array of nblocks; never empty on success */
  size_t nblocks;
  char *text;       /* owned: the blocks joined by "\n\n", NUL-terminated */
  size_t text_len;
} hx_doc;

/* Extract the file at path. declared_type may be NULL. lim NULL = defaults.
 * On success *out is a new doc (caller frees with hx_doc_free). */
int hx_extract_file(const char *path, const char *declared_type, const hx_extract_limits *lim,
                    hx_doc **out, hx_err *err);

/* Same from memory (borrowed, len bytes). name_hint (may be NULL) is a file
 * name used only for the .md hint. */
int hx_extract_mem(const void *data, size_t len, const char *declared_type, const char *name_hint,
                   const hx_extract_limits *lim, hx_doc **out, hx_err *err);

/* The type sniffed from the content alone ("pdf", "docx", "html", "text",
 * "srt", "vtt", or NULL for an empty input / unknown binary). Static string. */
const char *hx_extract_sniff(const void *data, size_t len);

/* The checks extraction starts with, for a caller that has only the first
 * bytes yet (an upload): the declared type is known (HX_EUNSUPP "unsupported
 * declared type 'X'"), the file is not empty (len, HX_EINVAL "empty file"),
 * head (head_len bytes, ideally >= 1024) sniffs as a supported type and does
 * not contradict the declaration (HX_EUNSUPP). *decl (NULL = not declared)
 * and *sniffed receive static type names. */
int hx_extract_check(const void *head, size_t head_len, size_t len, const char *declared_type, const char **decl,
                     const char **sniffed, hx_err *err);

void hx_doc_free(hx_doc *d);

#endif
