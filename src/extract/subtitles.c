/*
 * subtitles.c - SRT and WebVTT: one block per cue, with start_ms/end_ms.
 * Transcripts of videos arrive as subtitle files; a search hit must point back
 * to the moment in the video, so every cue keeps its times. A timestamp that
 * does not parse, or a cue that ends before it starts, is HX_EINVAL with the
 * 1-based line number ("SRT line 7: malformed timestamp '00:01:xx,000'").
 * Formatting tags (<i>, <b>, <font ...>, <v Speaker>, <c.x>, timestamps
 * <00:01.000>) are removed, basic entities (&amp; &lt; &gt; &nbsp;) decoded.
 * VTT NOTE, STYLE and REGION blocks are skipped.
 */
#include "extract/extract_int.h"

#include <ctype.h>
#include <string.h>

typedef struct {
  const char *s;
  size_t len, pos;
  unsigned line; /* number of the line last returned */
} lines;

static int next_line(lines *L, const char **l, size_t *n) {
  if (L->pos > L->len || (L->pos == L->len && L->line > 0)) return 0;
  const char *p = L->s + L->pos;
  const char *nl = memchr(p, '\n', L->len - L->pos);
  *n = nl ? (size_t)(nl - p) : L->len - L->pos;
  L->pos += *n + 1;
  if (*n && p[*n - 1] == '\r') (*n)--;
  *l = p;
  L->line++;
  return 1;
}

static int is_blank(const char *l, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (l[i] != ' ' && l[i] != '\t') return 0;
  return 1;
}

static int digits(const char *s, size_t n, size_t *i, int min, int max, long *v) {
  int k = 0;
  *v = 0;
  while (*i < n && isdigit((unsigned char)s[*i]) && k < max) *v = *v * 10 + (s[(*i)++] - '0'), k++;
  return k >= min;
}

/* [h+:]mm:ss[,.]mmm ; SRT needs the hours. Returns ms or -1. */
static long long parse_ts(const char *s, size_t n, size_t *i, int vtt) {
  long a, b, c, ms;
  if (!digits(s, n, i, 1, 9, &a) || *i >= n || s[*i] != ':') return -1;
  (*i)++;
  if (!digits(s, n, i, 2, 2, &b)) return -1;
  long h = 0, m, sec;
  if (*i < n && s[*i] == ':') {
    (*i)++;
    if (!digits(s, n, i, 2, 2, &c)) return -1;
    h = a, m = b, sec = c;
  } else {
    if (!vtt) return -1;
    m = a, sec = b;
    if (m > 59) return -1;
  }
  if (*i >= n || !(s[*i] == '.' || (!vtt && s[*i] == ','))) return -1;
  (*i)++;
  if (!digits(s, n, i, 3, 3, &ms)) return -1;
  if (m > 59 || sec > 59) return -1;
  return ((long long)h * 3600 + m * 60 + sec) * 1000 + ms;
}

static int timing(const char *l, size_t n, int vtt, long long *t0, long long *t1) {
  size_t i = 0;
  while (i < n && (l[i] == ' ' || l[i] == '\t')) i++;
  if ((*t0 = parse_ts(l, n, &i, vtt)) < 0) return -1;
  while (i < n && (l[i] == ' ' || l[i] == '\t')) i++;
  if (i + 3 > n || memcmp(l + i, "-->", 3) != 0) return -1;
  i += 3;
  while (i < n && (l[i] == ' ' || l[i] == '\t')) i++;
  if ((*t1 = parse_ts(l, n, &i, vtt)) < 0) return -1;
  if (i < n && l[i] != ' ' && l[i] != '\t') return -1; /* VTT settings follow a blank */
  /* SRT may carry "X1:..." coordinates after the times: accepted, ignored */
  return 0;
}

/* Append one cue text line with tags stripped and entities decoded. */
static int add_cue_line(hx_buf *b, const char *l, size_t n) {
  int rc = 0;
  if (b->len && (rc = hx_buf_add(b, "\n", 1))) return rc;
  for (size_t i = 0; i < n && !rc; i++) {
    if (l[i] == '<') {
      size_t j = i + 1;
      if (j < n && l[j] == '/') j++;
      if (j < n && (isalpha((unsigned char)l[j]) || isdigit((unsigned char)l[j]))) {
        const char *gt = memchr(l + j, '>', n - j);
        if (gt) {
          i = (size_t)(gt - l);
          continue;
        }
      }
    } else if (l[i] == '&') {
      static const struct { const char *e; const char *r; } ents[] = {
        {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&nbsp;", " "}, {"&lrm;", ""}, {"&rlm;", ""}};
      size_t k;
      for (k = 0; k < sizeof ents / sizeof ents[0]; k++) {
        size_t el = strlen(ents[k].e);
        if (n - i >= el && memcmp(l + i, ents[k].e, el) == 0) break;
      }
      if (k < sizeof ents / sizeof ents[0]) {
        rc = hx_buf_adds(b, ents[k].r);
        i += strlen(ents[k].e) - 1;
        continue;
      }
    }
    rc = hx_buf_add(b, l + i, 1);
  }
  return rc;
}

static int parse(const char *s, size_t len, int vtt, const hx_extract_limits *lim, hx_doc **out, hx_err *err) {
  const char *fmt = vtt ? "WebVTT" : "SRT";
  hx__docb b;
  hx_buf cue;
  hx_buf_init(&cue, lim->max_text_bytes);
  int rc = hx__docb_init(&b, vtt ? "vtt" : "srt", lim, err);
  if (rc) return rc;
  lines L = {s, len, 0, 0};
  const char *l;
  size_t n;
  if (vtt) {
    if (!next_line(&L, &l, &n) || n < 6 || memcmp(l, "WEBVTT", 6) != 0 || (n > 6 && l[6] != ' ' && l[6] != '\t')) {
      rc = hx_err_set(err, HX_EINVAL, "WebVTT line 1: missing WEBVTT header");
      goto out;
    }
    while (next_line(&L, &l, &n) && !is_blank(l, n)) {} /* header block */
  }
  for (;;) {
    if (!next_line(&L, &l, &n)) break;
    if (is_blank(l, n)) continue;
    if (vtt && ((n >= 4 && memcmp(l, "NOTE", 4) == 0 && (n == 4 || l[4] == ' ' || l[4] == '\t')) ||
                (n >= 5 && memcmp(l, "STYLE", 5) == 0) || (n >= 6 && memcmp(l, "REGION", 6) == 0))) {
      while (next_line(&L, &l, &n) && !is_blank(l, n)) {}
      continue;
    }
    if (!memmem(l, n, "-->", 3)) {
      size_t d = 0;
      while (d < n && isdigit((unsigned char)l[d])) d++;
      if (d && d + 1 < n && l[d] == ':' && isdigit((unsigned char)l[d + 1])) {
        /* looks like a timing line with a broken arrow */
        rc = hx_err_set(err, HX_EINVAL, "%s line %u: malformed timestamp '%.*s'", fmt, L.line, (int)(n > 60 ? 60 : n), l);
        goto out;
      }
      /* a cue identifier (SRT: the cue number) comes first */
      if (!vtt) {
        size_t i = 0;
        while (i < n && isdigit((unsigned char)l[i])) i++;
        if (!i || !is_blank(l + i, n - i)) {
          rc = hx_err_set(err, HX_EINVAL, "SRT line %u: expected a cue number, got '%.*s'", L.line, (int)(n > 40 ? 40 : n), l);
          goto out;
        }
      }
      if (!next_line(&L, &l, &n)) {
        rc = hx_err_set(err, HX_EINVAL, "%s line %u: cue without timing line", fmt, L.line);
        goto out;
      }
    }
    long long t0, t1;
    if (timing(l, n, vtt, &t0, &t1)) {
      rc = hx_err_set(err, HX_EINVAL, "%s line %u: malformed timestamp '%.*s'", fmt, L.line, (int)(n > 60 ? 60 : n), l);
      goto out;
    }
    if (t1 < t0) {
      rc = hx_err_set(err, HX_EINVAL, "%s line %u: cue ends before it starts", fmt, L.line);
      goto out;
    }
    hx_buf_reset(&cue);
    while (next_line(&L, &l, &n) && !is_blank(l, n)) {
      if ((rc = add_cue_line(&cue, l, n))) {
        rc = hx_err_set(err, rc, rc == HX_ETOOBIG ? "text exceeds max_text_bytes" : "out of memory");
        goto out;
      }
    }
    if (cue.len && (rc = hx__docb_add(&b, cue.data, cue.len, 0, t0, t1, err))) goto out;
  }
  rc = hx__docb_finish(&b, out, err);
out:
  hx_buf_release(&cue);
  hx__docb_release(&b);
  return rc;
}

int hx__extract_srt(const char *s, size_t len, const hx_extract_limits *lim, hx_doc **out, hx_err *err) {
  return parse(s, len, 0, lim, out, err);
}

int hx__extract_vtt(const char *s, size_t len, const hx_extract_limits *lim, hx_doc **out, hx_err *err) {
  return parse(s, len, 1, lim, out, err);
}
