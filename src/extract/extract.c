/*
 * extract.c - the front door of extraction: read the file under the input
 * limit, sniff what it is, reconcile that with the declared type, decode text
 * encodings (UTF-8 / UTF-16 with BOM) and hand the bytes to the format's
 * extractor. Also the document builder shared by all extractors, so that
 * limits on blocks and text are enforced in one place.
 */
#include "extract/extract_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

void hx_extract_limits_default(hx_extract_limits *l) {
  l->max_input_bytes = 64u << 20;
  l->max_pages = 2000;
  l->max_inflated_bytes = 256u << 20;
  l->max_ratio = 200;
  l->max_entries = 10000;
  l->max_blocks = 1000000;
  l->max_text_bytes = 256u << 20;
}

/* ---- document builder ---- */

int hx__docb_init(hx__docb *b, const char *type, const hx_extract_limits *lim, hx_err *err) {
  memset(b, 0, sizeof *b);
  b->lim = lim;
  b->doc = calloc(1, sizeof *b->doc);
  if (!b->doc) return hx_err_set(err, HX_ENOMEM, "out of memory");
  b->doc->type = type;
  return 0;
}

void hx__docb_release(hx__docb *b) {
  hx_doc_free(b->doc);
  b->doc = NULL;
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static void trim(const char **s, size_t *len) {
  while (*len && is_space((unsigned char)**s)) (*s)++, (*len)--;
  while (*len && is_space((unsigned char)(*s)[*len - 1])) (*len)--;
}

/* A NUL-terminated copy; NULs become spaces and bytes that are not valid
 * UTF-8 become U+FFFD (libraries such as libxml2 and poppler can hand back
 * such bytes from broken input; the chunker relies on valid UTF-8). */
static char *dup_clean(const char *s, size_t *len) {
  size_t n = *len, ok = hx__utf8_check(s, n);
  hx_buf b;
  hx_buf_init(&b, (size_t)-1);
  if (hx_buf_add(&b, s, ok)) goto fail;
  for (size_t i = ok; i < n;) {
    size_t good = hx__utf8_check(s + i, n - i);
    if (hx_buf_add(&b, s + i, good)) goto fail;
    i += good;
    if (i < n) {
      if (hx_buf_add(&b, "\xEF\xBF\xBD", 3)) goto fail;
      i++;
    }
  }
  char *p = hx_buf_steal(&b, len);
  if (p)
    for (size_t i = 0; i < *len; i++)
      if (!p[i]) p[i] = ' ';
  return p;
fail:
  hx_buf_release(&b);
  return NULL;
}

int hx__docb_add(hx__docb *b, const char *text, size_t len, uint32_t page, int64_t start_ms,
                 int64_t end_ms, hx_err *err) {
  trim(&text, &len);
  if (!len) return 0;
  hx_doc *d = b->doc;
  if (d->nblocks >= b->lim->max_blocks)
    return hx_err_set(err, HX_ETOOBIG, "document has more than %zu blocks (limit max_blocks)",
                      b->lim->max_blocks);
  if (b->text_bytes + len + 2 > b->lim->max_text_bytes)
    return hx_err_set(err, HX_ETOOBIG, "document has more than %zu bytes of text (limit max_text_bytes)",
                      b->lim->max_text_bytes);
  if (d->nblocks == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    hx_block *nb = realloc(d->blocks, cap * sizeof *nb);
    if (!nb) return hx_err_set(err, HX_ENOMEM, "out of memory");
    d->blocks = nb;
    b->cap = cap;
  }
  char *p = dup_clean(text, &len);
  if (!p) return hx_err_set(err, HX_ENOMEM, "out of memory");
  d->blocks[d->nblocks++] = (hx_block){p, len, page, start_ms, end_ms, 0};
  b->text_bytes += len + 2;
  return 0;
}

int hx__docb_title(hx__docb *b, const char *text, size_t len, hx_err *err) {
  trim(&text, &len);
  if (!len || b->doc->title) return 0;
  if (len > 1024) { /* a title, not a document; cut on a UTF-8 boundary */
    len = 1024;
    while (len && ((unsigned char)text[len] & 0xC0) == 0x80) len--;
  }
  b->doc->title = dup_clean(text, &len);
  return b->doc->title ? 0 : hx_err_set(err, HX_ENOMEM, "out of memory");
}

int hx__docb_finish(hx__docb *b, hx_doc **out, hx_err *err) {
  hx_doc *d = b->doc;
  if (!d->nblocks) return hx_err_set(err, HX_EINVAL, "document contains no text");
  size_t total = 0;
  for (size_t i = 0; i < d->nblocks; i++) total += d->blocks[i].len + (i ? 2 : 0);
  d->text = malloc(total + 1);
  if (!d->text) return hx_err_set(err, HX_ENOMEM, "out of memory");
  size_t o = 0;
  for (size_t i = 0; i < d->nblocks; i++) {
    if (i) d->text[o++] = '\n', d->text[o++] = '\n';
    d->blocks[i].offset = o;
    memcpy(d->text + o, d->blocks[i].text, d->blocks[i].len);
    o += d->blocks[i].len;
  }
  d->text[o] = '\0';
  d->text_len = o;
  *out = d;
  b->doc = NULL;
  return 0;
}

void hx_doc_free(hx_doc *d) {
  if (!d) return;
  for (size_t i = 0; i < d->nblocks; i++) free(d->blocks[i].text);
  free(d->blocks);
  free(d->title);
  free(d->text);
  free(d);
}

/* ---- UTF-8 ---- */

size_t hx__utf8_check(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t n;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) n = 1, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) n = 2, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) n = 3, cp = c & 0x07, min = 0x10000;
    else return i;
    if (i + n >= len) return i; /* truncated sequence */
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n + 1;
  }
  return len;
}

int hx__utf8_put(hx_buf *out, uint32_t cp) {
  unsigned char t[4];
  size_t n;
  if (cp < 0x80) t[0] = (unsigned char)cp, n = 1;
  else if (cp < 0x800) t[0] = 0xC0 | (cp >> 6), t[1] = 0x80 | (cp & 0x3F), n = 2;
  else if (cp < 0x10000)
    t[0] = 0xE0 | (cp >> 12), t[1] = 0x80 | ((cp >> 6) & 0x3F), t[2] = 0x80 | (cp & 0x3F), n = 3;
  else
    t[0] = 0xF0 | (cp >> 18), t[1] = 0x80 | ((cp >> 12) & 0x3F), t[2] = 0x80 | ((cp >> 6) & 0x3F),
    t[3] = 0x80 | (cp & 0x3F), n = 4;
  return hx_buf_add(out, t, n);
}

/* UTF-16 (after the BOM) to UTF-8. */
static int utf16_decode(const unsigned char *s, size_t len, int be, const hx_extract_limits *lim, hx_buf *out,
                        hx_err *err) {
  if (len % 2) return hx_err_set(err, HX_EINVAL, "truncated UTF-16: odd number of bytes (%zu)", len + 2);
  size_t n = len / 2;
  hx_buf_init(out, lim->max_text_bytes);
  for (size_t i = 0; i < n; i++) {
    uint32_t u = be ? (uint32_t)(s[2 * i] << 8 | s[2 * i + 1]) : (uint32_t)(s[2 * i + 1] << 8 | s[2 * i]);
    if (u >= 0xD800 && u <= 0xDBFF) {
      if (i + 1 == n)
        return hx_err_set(err, HX_EINVAL, "truncated UTF-16: high surrogate at the end (byte %zu)", 2 * i + 2);
      uint32_t l = be ? (uint32_t)(s[2 * i + 2] << 8 | s[2 * i + 3]) : (uint32_t)(s[2 * i + 3] << 8 | s[2 * i + 2]);
      if (l < 0xDC00 || l > 0xDFFF)
        return hx_err_set(err, HX_EINVAL, "invalid UTF-16: unpaired high surrogate at byte %zu", 2 * i + 2);
      u = 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00);
      i++;
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
      return hx_err_set(err, HX_EINVAL, "invalid UTF-16: unpaired low surrogate at byte %zu", 2 * i + 2);
    }
    int rc = hx__utf8_put(out, u);
    if (rc) return hx_err_set(err, rc, rc == HX_ETOOBIG ? "text exceeds max_text_bytes" : "out of memory");
  }
  return 0;
}

/* ---- sniffing ---- */

static int has_prefix_ci(const char *s, size_t len, const char *p) {
  size_t n = strlen(p);
  return len >= n && strncasecmp(s, p, n) == 0;
}

static int is_srt_time(const char *s, size_t len) {
  /* hh:mm:ss,mmm --> ... (1+ digit hours) */
  size_t i = 0;
  while (i < len && s[i] >= '0' && s[i] <= '9') i++;
  if (!i || i + 9 > len) return 0;
  const char *t = s + i;
  return t[0] == ':' && t[3] == ':' && (t[6] == ',' || t[6] == '.') && memmem(s, len, "-->", 3) != NULL;
}

/* Which textual type is this UTF-8 text? */
static const char *sniff_text(const char *s, size_t len) {
  if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, len -= 3;
  while (len && is_space((unsigned char)*s)) s++, len--;
  if (len >= 6 && memcmp(s, "WEBVTT", 6) == 0 && (len == 6 || is_space((unsigned char)s[6])))
    return "vtt";
  /* html: skip comments / <?xml ... ?> first, then look at the first tag */
  const char *p = s;
  size_t n = len < 4096 ? len : 4096;
  const char *end = s + n;
  for (;;) {
    while (p < end && is_space((unsigned char)*p)) p++;
    if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
      const char *c = memmem(p, (size_t)(end - p), "-->", 3);
      if (!c) break;
      p = c + 3;
    } else if (end - p >= 2 && memcmp(p, "<?", 2) == 0) {
      const char *c = memmem(p, (size_t)(end - p), "?>", 2);
      if (!c) break;
      p = c + 2;
    } else {
      break;
    }
  }
  size_t rest = (size_t)(end - p);
  if (has_prefix_ci(p, rest, "<!doctype html") || has_prefix_ci(p, rest, "<html") ||
      has_prefix_ci(p, rest, "<head") || has_prefix_ci(p, rest, "<body"))
    return "html";
  /* srt: first line a cue number, second a timing line */
  const char *nl = memchr(s, '\n', len);
  if (nl) {
    size_t i = 0, l1 = (size_t)(nl - s);
    while (i < l1 && s[i] >= '0' && s[i] <= '9') i++;
    if (i && (i == l1 || (i + 1 == l1 && s[i] == '\r'))) {
      const char *l2 = nl + 1;
      const char *nl2 = memchr(l2, '\n', len - (size_t)(l2 - s));
      size_t n2 = nl2 ? (size_t)(nl2 - l2) : len - (size_t)(l2 - s);
      if (is_srt_time(l2, n2)) return "srt";
    }
  }
  return "text";
}

const char *hx_extract_sniff(const void *data, size_t len) {
  const char *s = data;
  if (!len) return NULL;
  size_t head = len < 1024 ? len : 1024;
  if (len >= 5 && memmem(s, head, "%PDF-", 5)) return "pdf";
  if (len >= 4 && memcmp(s, "PK\x03\x04", 4) == 0) return "docx";
  if (len >= 2 && ((unsigned char)s[0] == 0xFF && (unsigned char)s[1] == 0xFE)) return "text";
  if (len >= 2 && ((unsigned char)s[0] == 0xFE && (unsigned char)s[1] == 0xFF)) return "text";
  if (memchr(s, 0, head)) return NULL; /* binary we do not know */
  return sniff_text(s, len);
}

/* Map a declared type (short name or MIME type) to one of ours.
 * Returns 0 with *t = NULL for "not declared", HX_EUNSUPP for unknown. */
static int map_declared(const char *decl, const char **t, hx_err *err) {
  static const struct { const char *name; const char *type; } map[] = {
    {"pdf", "pdf"}, {"application/pdf", "pdf"}, {"application/x-pdf", "pdf"},
    {"docx", "docx"}, {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
    {"html", "html"}, {"htm", "html"}, {"text/html", "html"}, {"application/xhtml+xml", "html"},
    {"text", "text"}, {"txt", "text"}, {"text/plain", "text"},
    {"markdown", "markdown"}, {"md", "markdown"}, {"text/markdown", "markdown"}, {"text/x-markdown", "markdown"},
    {"srt", "srt"}, {"application/x-subrip", "srt"}, {"text/srt", "srt"}, {"application/srt", "srt"},
    {"vtt", "vtt"}, {"text/vtt", "vtt"},
  };
  *t = NULL;
  if (!decl) return 0;
  char buf[128];
  size_t n = strcspn(decl, ";");
  while (n && is_space((unsigned char)decl[n - 1])) n--;
  while (n && is_space((unsigned char)*decl)) decl++, n--;
  if (!n || (n == 24 && strncasecmp(decl, "application/octet-stream", 24) == 0)) return 0;
  if (n >= sizeof buf) return hx_err_set(err, HX_EUNSUPP, "unsupported declared type");
  memcpy(buf, decl, n);
  buf[n] = '\0';
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcasecmp(buf, map[i].name) == 0) return *t = map[i].type, 0;
  return hx_err_set(err, HX_EUNSUPP, "unsupported declared type '%s'", buf);
}

static int is_binary_type(const char *t) { return strcmp(t, "pdf") == 0 || strcmp(t, "docx") == 0; }

static int ends_with_ci(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcasecmp(s + a - b, suf) == 0;
}

int hx_extract_check(const void *head, size_t head_len, size_t len, const char *declared_type, const char **decl,
                     const char **sniffed, hx_err *err) {
  int rc = map_declared(declared_type, decl, err);
  if (rc) return rc;
  if (len == 0) return hx_err_set(err, HX_EINVAL, "empty file");
  *sniffed = hx_extract_sniff(head, head_len);
  if (!*sniffed) return hx_err_set(err, HX_EUNSUPP, "unsupported content: unknown binary format");
  if (*decl && (is_binary_type(*decl) != is_binary_type(*sniffed) ||
                (is_binary_type(*decl) && strcmp(*decl, *sniffed) != 0)))
    return hx_err_set(err, HX_EUNSUPP, "declared type '%s' but the content is %s", *decl, *sniffed);
  return 0;
}

int hx_extract_mem(const void *data, size_t len, const char *declared_type, const char *name_hint,
                   const hx_extract_limits *lim, hx_doc **out, hx_err *err) {
  hx_extract_limits dl;
  if (!lim) hx_extract_limits_default(&dl), lim = &dl;
  *out = NULL;
  const char *decl, *sniffed;
  int rc = hx_extract_check(data, len, len, declared_type, &decl, &sniffed, err);
  if (rc) return rc;
  if (len > lim->max_input_bytes)
    return hx_err_set(err, HX_ETOOBIG, "file is %zu bytes, limit max_input_bytes is %zu", len,
                      lim->max_input_bytes);
  if (strcmp(sniffed, "pdf") == 0) return hx__extract_pdf(data, len, lim, out, err);
  if (strcmp(sniffed, "docx") == 0) return hx__extract_docx(data, len, lim, out, err);

  /* textual: decode first (UTF-16 BOM, UTF-8 BOM), sniff the decoded text */
  const unsigned char *u = data;
  hx_buf dec;
  hx_buf_init(&dec, lim->max_text_bytes);
  const char *s = data;
  size_t n = len;
  int utf16 = len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF));
  if (utf16) {
    rc = utf16_decode(u + 2, len - 2, u[0] == 0xFE, lim, &dec, err);
    if (rc) goto out;
    s = dec.data ? dec.data : "";
    n = dec.len;
    sniffed = sniff_text(s, n);
  }
  const char *type = decl ? decl : sniffed;
  if (!decl && strcmp(type, "text") == 0 && name_hint &&
      (ends_with_ci(name_hint, ".md") || ends_with_ci(name_hint, ".markdown")))
    type = "markdown";
  if (strcmp(type, "html") == 0 && !utf16) { /* libxml2 decodes (meta charset, BOM) */
    rc = hx__extract_html(data, len, lim, out, err);
    goto out;
  }
  if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, n -= 3;
  if (n == 0) {
    rc = hx_err_set(err, HX_EINVAL, "empty file");
    goto out;
  }
  size_t bad = hx__utf8_check(s, n);
  if (bad != n) {
    rc = hx_err_set(err, HX_EINVAL, "invalid UTF-8 at byte offset %zu", bad + (size_t)(s - (const char *)data));
    goto out;
  }
  if (strcmp(type, "html") == 0) rc = hx__extract_html(s, n, lim, out, err);
  else if (strcmp(type, "srt") == 0) rc = hx__extract_srt(s, n, lim, out, err);
  else if (strcmp(type, "vtt") == 0) rc = hx__extract_vtt(s, n, lim, out, err);
  else rc = hx__extract_text(s, n, strcmp(type, "markdown") == 0, lim, out, err);
out:
  hx_buf_release(&dec);
  return rc;
}

int hx_extract_file(const char *path, const char *declared_type, const hx_extract_limits *lim, hx_doc **out,
                    hx_err *err) {
  hx_extract_limits dl;
  if (!lim) hx_extract_limits_default(&dl), lim = &dl;
  *out = NULL;
  int rc = 0, fd = -1;
  char *data = NULL;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return hx_err_set(err, errno == ENOENT ? HX_ENOENT : HX_EIO, "cannot open %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    rc = hx_err_set(err, HX_EINVAL, "%s is not a regular file", path);
    goto out;
  }
  size_t size = (size_t)st.st_size;
  if (size > lim->max_input_bytes) {
    rc = hx_err_set(err, HX_ETOOBIG, "file is %zu bytes, limit max_input_bytes is %zu", size, lim->max_input_bytes);
    goto out;
  }
  data = malloc(size ? size : 1);
  if (!data) {
    rc = hx_err_set(err, HX_ENOMEM, "out of memory");
    goto out;
  }
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd, data + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      rc = hx_err_set(err, HX_EIO, "cannot read %s: %s", path, r ? strerror(errno) : "short read");
      goto out;
    }
    got += (size_t)r;
  }
  rc = hx_extract_mem(data, size, declared_type, path, lim, out, err);
out:
  free(data);
  if (fd >= 0) close(fd);
  return rc;
}
