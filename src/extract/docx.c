/*
 * docx.c - Word documents: a zip (libarchive) holding WordprocessingML
 * (libxml2). Only word/document.xml (the body) and docProps/core.xml (the
 * title) are inflated. A zip is a classic bomb carrier, so everything is
 * bounded before it is believed: the number of entries (max_entries), the
 * bytes inflated across the entries read (max_inflated_bytes, counted while
 * inflating, not taken from headers) and the ratio of inflated bytes to the
 * size of the file (max_ratio). Each paragraph is a block (headings too; a
 * "Title" style paragraph is the title when core.xml has none); each table
 * row is a block whose cells are joined by " | ". Deleted text and field
 * codes are not text.
 */
#include "extract/extract_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

static int is(xmlNode *n, const char *local) {
  return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, local) == 0;
}

/* Read the current entry into out, counting against the inflated budget. */
static int read_entry(struct archive *a, const char *name, size_t file_len, const hx_extract_limits *lim,
                      size_t *inflated, hx_buf *out, hx_err *err) {
  char tmp[65536];
  for (;;) {
    la_ssize_t r = archive_read_data(a, tmp, sizeof tmp);
    if (r == 0) return 0;
    if (r < 0) return hx_err_set(err, HX_EINVAL, "corrupt DOCX: %s: %s", name, archive_error_string(a));
    *inflated += (size_t)r;
    if (*inflated > lim->max_inflated_bytes)
      return hx_err_set(err, HX_ETOOBIG, "DOCX inflates to more than %zu bytes (limit max_inflated_bytes): zip bomb?",
                        lim->max_inflated_bytes);
    if (*inflated / (file_len ? file_len : 1) > lim->max_ratio)
      return hx_err_set(err, HX_ETOOBIG, "DOCX compression ratio above %u:1 (limit max_ratio): zip bomb?",
                        lim->max_ratio);
    if (hx_buf_add(out, tmp, (size_t)r)) return hx_err_set(err, HX_ENOMEM, "out of memory");
  }
}

static int add(hx_buf *b, const char *s, size_t n) { return hx_buf_add(b, s, n); }

/* Text of a subtree: w:t, tabs, breaks; nested paragraphs separated by a
 * space, table cells by " | ". */
static int collect(xmlNode *n, hx_buf *b, unsigned depth) {
  int rc = 0;
  if (depth > 200) return 0;
  for (; n && !rc; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    if (is(n, "t")) {
      for (xmlNode *c = n->children; c && !rc; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
          rc = add(b, (const char *)c->content, strlen((const char *)c->content));
    } else if (is(n, "tab")) {
      rc = add(b, "\t", 1);
    } else if (is(n, "br") || is(n, "cr")) {
      rc = add(b, "\n", 1);
    } else if (is(n, "delText") || is(n, "instrText") || is(n, "rPr") || is(n, "pPr") || is(n, "del")) {
      continue;
    } else {
      if (is(n, "p") && b->len && b->data[b->len - 1] != ' ') rc = add(b, " ", 1);
      else if (is(n, "tc") && b->len) rc = add(b, " | ", 3);
      if (!rc) rc = collect(n->children, b, depth + 1);
    }
  }
  return rc;
}

static int pstyle_is_title(xmlNode *p) {
  for (xmlNode *c = p->children; c; c = c->next)
    if (is(c, "pPr"))
      for (xmlNode *s = c->children; s; s = s->next)
        if (is(s, "pStyle")) {
          xmlChar *v = xmlGetNsProp(s, (const xmlChar *)"val", s->ns ? s->ns->href : NULL);
          if (!v) v = xmlGetProp(s, (const xmlChar *)"val");
          int t = v && strcmp((const char *)v, "Title") == 0;
          xmlFree(v);
          return t;
        }
  return 0;
}

static int body(xmlNode *n, hx__docb *d, hx_buf *tmp, unsigned depth, hx_err *err) {
  int rc = 0;
  if (depth > 200) return 0;
  for (; n && !rc; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    if (is(n, "p")) {
      hx_buf_reset(tmp);
      if (collect(n->children, tmp, 0)) return hx_err_set(err, HX_ENOMEM, "out of memory");
      rc = hx__docb_add(d, tmp->data ? tmp->data : "", tmp->len, 0, -1, -1, err);
      if (!rc && pstyle_is_title(n)) rc = hx__docb_title(d, tmp->data ? tmp->data : "", tmp->len, err);
    } else if (is(n, "tbl")) {
      for (xmlNode *r = n->children; r && !rc; r = r->next) {
        if (!is(r, "tr")) continue;
        hx_buf_reset(tmp);
        if (collect(r->children, tmp, 0)) return hx_err_set(err, HX_ENOMEM, "out of memory");
        rc = hx__docb_add(d, tmp->data ? tmp->data : "", tmp->len, 0, -1, -1, err);
      }
    } else if (!is(n, "sectPr")) {
      rc = body(n->children, d, tmp, depth + 1, err); /* sdt, customXml, ins, ... */
    }
  }
  return rc;
}

static xmlDoc *parse_xml(const hx_buf *x, const char *name, hx_err *err) {
  if (x->len > (size_t)INT32_MAX) return hx_err_set(err, HX_ETOOBIG, "%s too large", name), NULL;
  /* no XML_PARSE_NOENT: entities are not expanded (billion laughs) */
  xmlDoc *doc = xmlReadMemory(x->data ? x->data : "", (int)x->len, name, NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc) hx_err_set(err, HX_EINVAL, "corrupt DOCX: %s is not well-formed XML", name);
  return doc;
}

int hx__extract_docx(const void *data, size_t len, const hx_extract_limits *lim, hx_doc **out, hx_err *err) {
  hx__docb d;
  int rc = hx__docb_init(&d, "docx", lim, err);
  if (rc) return rc;
  struct archive *a = archive_read_new();
  hx_buf docxml, core, tmp;
  hx_buf_init(&docxml, lim->max_inflated_bytes);
  hx_buf_init(&core, lim->max_inflated_bytes);
  hx_buf_init(&tmp, lim->max_text_bytes);
  xmlDoc *doc = NULL, *cdoc = NULL;
  size_t inflated = 0;
  unsigned entries = 0;
  int have_doc = 0;
  if (!a) {
    rc = hx_err_set(err, HX_ENOMEM, "out of memory");
    goto out;
  }
  archive_read_support_format_zip(a);
  if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
    rc = hx_err_set(err, HX_EINVAL, "corrupt DOCX: %s", archive_error_string(a));
    goto out;
  }
  struct archive_entry *e;
  for (;;) {
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      rc = hx_err_set(err, HX_EINVAL, "corrupt DOCX: %s", archive_error_string(a));
      goto out;
    }
    if (++entries > lim->max_entries) {
      rc = hx_err_set(err, HX_ETOOBIG, "DOCX has more than %u zip entries (limit max_entries)", lim->max_entries);
      goto out;
    }
    const char *name = archive_entry_pathname(e);
    if (!name) continue;
    if (strcmp(name, "word/document.xml") == 0 && !have_doc) {
      have_doc = 1;
      if ((rc = read_entry(a, name, len, lim, &inflated, &docxml, err))) goto out;
    } else if (strcmp(name, "docProps/core.xml") == 0 && !core.len) {
      if ((rc = read_entry(a, name, len, lim, &inflated, &core, err))) goto out;
    }
  }
  if (!have_doc) {
    rc = hx_err_set(err, HX_EUNSUPP, "unsupported content: a ZIP archive without word/document.xml is not a DOCX");
    goto out;
  }
  if (core.len && (cdoc = xmlReadMemory(core.data, (int)(core.len > INT32_MAX ? 0 : core.len), "core.xml", NULL,
                                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING))) {
    for (xmlNode *n = xmlDocGetRootElement(cdoc) ? xmlDocGetRootElement(cdoc)->children : NULL; n; n = n->next)
      if (is(n, "title")) {
        xmlChar *t = xmlNodeGetContent(n);
        if (t) rc = hx__docb_title(&d, (const char *)t, strlen((const char *)t), err);
        xmlFree(t);
        if (rc) goto out;
      }
  }
  if (!(doc = parse_xml(&docxml, "word/document.xml", err))) {
    rc = err ? err->code : HX_EINVAL;
    goto out;
  }
  xmlNode *root = xmlDocGetRootElement(doc);
  for (xmlNode *n = root ? root->children : NULL; n; n = n->next)
    if (is(n, "body") && (rc = body(n->children, &d, &tmp, 0, err))) goto out;
  rc = hx__docb_finish(&d, out, err);
out:
  if (doc) xmlFreeDoc(doc);
  if (cdoc) xmlFreeDoc(cdoc);
  if (a) archive_read_free(a);
  hx_buf_release(&docxml);
  hx_buf_release(&core);
  hx_buf_release(&tmp);
  hx__docb_release(&d);
  return rc;
}
