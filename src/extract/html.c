/*
 * html.c - visible text of an HTML page with libxml2's HTML parser.
 * Search results show chunk text, so only what a reader sees is kept: the
 * contents of script, style, noscript, template, head (except <title>, which
 * becomes the document title), svg/math/iframe/object and any element with the
 * hidden attribute, aria-hidden="true" or an inline display:none /
 * visibility:hidden style are dropped. Block-level elements end a paragraph
 * (one hx_block each); runs of whitespace collapse to one space as a browser
 * renders them, except inside <pre>. Table cells are separated by " | ".
 */
#include "extract/extract_int.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <string.h>
#include <strings.h>

typedef struct {
  hx__docb *b;
  hx_buf para;
  int pre;
  int rc;
  hx_err *err;
  unsigned depth;
} walk;

static int in_list(const char *name, const char *const *list) {
  for (; *list; list++)
    if (strcasecmp(name, *list) == 0) return 1;
  return 0;
}

static const char *const skip_tags[] = {"script", "style", "noscript", "template", "head", "svg", "math",
                                        "iframe", "object", "embed", "canvas", "select", "button", NULL};
static const char *const block_tags[] = {
  "p", "div", "section", "article", "header", "footer", "main", "nav", "aside", "h1", "h2", "h3", "h4", "h5",
  "h6", "ul", "ol", "li", "dl", "dt", "dd", "table", "tr", "thead", "tbody", "tfoot", "caption", "blockquote",
  "pre", "figure", "figcaption", "form", "fieldset", "address", "hr", "br", "details", "summary", "body", "html",
  NULL};

static int hidden(xmlNode *n) {
  if (xmlHasProp(n, (const xmlChar *)"hidden")) return 1;
  xmlChar *a = xmlGetProp(n, (const xmlChar *)"aria-hidden");
  int h = a && strcasecmp((const char *)a, "true") == 0;
  xmlFree(a);
  if (h) return 1;
  xmlChar *st = xmlGetProp(n, (const xmlChar *)"style");
  if (st) {
    /* squeeze spaces: "display : none" */
    char buf[256];
    size_t k = 0;
    for (const xmlChar *p = st; *p && k + 1 < sizeof buf; p++)
      if (*p != ' ' && *p != '\t') buf[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    buf[k] = '\0';
    h = strstr(buf, "display:none") || strstr(buf, "visibility:hidden");
    xmlFree(st);
  }
  return h;
}

static void flush(walk *w) {
  if (w->rc || !w->para.len) return;
  w->rc = hx__docb_add(w->b, w->para.data, w->para.len, 0, -1, -1, w->err);
  hx_buf_reset(&w->para);
}

static void add_text(walk *w, const char *t) {
  if (w->rc) return;
  int rc = 0;
  for (const char *p = t; *p && !rc; p++) {
    char c = *p;
    int sp = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
    if (sp && !w->pre) {
      if (w->para.len && w->para.data[w->para.len - 1] != ' ' && w->para.data[w->para.len - 1] != '\n')
        rc = hx_buf_add(&w->para, " ", 1);
    } else {
      rc = hx_buf_add(&w->para, &c, 1);
    }
  }
  if (rc) w->rc = hx_err_set(w->err, rc, rc == HX_ETOOBIG ? "text exceeds max_text_bytes" : "out of memory");
}

static void visit(walk *w, xmlNode *n) {
  for (; n && !w->rc; n = n->next) {
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
      if (n->content) add_text(w, (const char *)n->content);
      continue;
    }
    if (n->type != XML_ELEMENT_NODE) continue;
    const char *name = (const char *)n->name;
    if (strcasecmp(name, "title") == 0) {
      xmlChar *t = xmlNodeGetContent(n);
      if (t) w->rc = hx__docb_title(w->b, (const char *)t, strlen((const char *)t), w->err);
      xmlFree(t);
      continue;
    }
    if (in_list(name, skip_tags) || hidden(n)) {
      /* <head> may hold the title */
      if (strcasecmp(name, "head") == 0) visit(w, n->children);
      continue;
    }
    if (w->depth > 256) continue; /* pathological nesting: the parser caps it too */
    int block = in_list(name, block_tags);
    int pre = strcasecmp(name, "pre") == 0;
    int cell = strcasecmp(name, "td") == 0 || strcasecmp(name, "th") == 0;
    if (block) flush(w);
    if (cell && w->para.len) add_text(w, " | ");
    w->pre += pre;
    w->depth++;
    visit(w, n->children);
    w->depth--;
    w->pre -= pre;
    if (block) flush(w);
  }
}

int hx__extract_html(const void *data, size_t len, const hx_extract_limits *lim, hx_doc **out, hx_err *err) {
  hx__docb b;
  int rc = hx__docb_init(&b, "html", lim, err);
  if (rc) return rc;
  htmlDocPtr doc = NULL;
  walk w = {&b, {0}, 0, 0, err, 0};
  hx_buf_init(&w.para, lim->max_text_bytes);
  if (len > (size_t)INT32_MAX) {
    rc = hx_err_set(err, HX_ETOOBIG, "HTML too large");
    goto out;
  }
  doc = htmlReadMemory(data, (int)len, NULL, NULL,
                       HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
                           HTML_PARSE_NOIMPLIED);
  if (!doc) {
    rc = hx_err_set(err, HX_EINVAL, "HTML could not be parsed");
    goto out;
  }
  visit(&w, xmlDocGetRootElement(doc) ? doc->children : NULL);
  flush(&w);
  if ((rc = w.rc)) goto out;
  rc = hx__docb_finish(&b, out, err);
out:
  hx_buf_release(&w.para);
  if (doc) xmlFreeDoc(doc);
  hx__docb_release(&b);
  return rc;
}
