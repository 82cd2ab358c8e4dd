/*
 * pdf.c - PDF text per page with poppler (glib binding). One block per page
 * carrying its 1-based page number. Refuses up front what it cannot do well:
 * an encrypted PDF (a user password is needed: HX_EUNSUPP "PDF is
 * encrypted"), a file poppler cannot open ("corrupt PDF: ..."), and more
 * pages than max_pages (HX_ETOOBIG, checked before any page is read, so a
 * huge page count cannot make extraction run for ever).
 */
#include "extract/extract_int.h"

#include <poppler.h>
#include <string.h>

int hx__extract_pdf(const void *data, size_t len, const hx_extract_limits *lim, hx_doc **out, hx_err *err) {
  hx__docb d;
  int rc = hx__docb_init(&d, "pdf", lim, err);
  if (rc) return rc;
  GError *ge = NULL;
  GBytes *bytes = g_bytes_new_static(data, len);
  PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, &ge);
  if (!doc) {
    if (ge && ge->domain == POPPLER_ERROR && ge->code == POPPLER_ERROR_ENCRYPTED)
      rc = hx_err_set(err, HX_EUNSUPP, "PDF is encrypted");
    else
      rc = hx_err_set(err, HX_EINVAL, "corrupt PDF: %s", ge && ge->message ? ge->message : "cannot be opened");
    goto out;
  }
  int n = poppler_document_get_n_pages(doc);
  if (n < 0 || (unsigned)n > lim->max_pages) {
    rc = hx_err_set(err, HX_ETOOBIG, "PDF has %d pages, limit max_pages is %u", n, lim->max_pages);
    goto out;
  }
  gchar *title = poppler_document_get_title(doc);
  if (title) {
    rc = hx__docb_title(&d, title, strlen(title), err);
    g_free(title);
    if (rc) goto out;
  }
  for (int i = 0; i < n && !rc; i++) {
    PopplerPage *p = poppler_document_get_page(doc, i);
    if (!p) continue;
    gchar *t = poppler_page_get_text(p);
    if (t) {
      rc = hx__docb_add(&d, t, strlen(t), (uint32_t)i + 1, -1, -1, err);
      g_free(t);
    }
    g_object_unref(p);
  }
  if (rc) goto out;
  if (!d.doc->nblocks) {
    rc = hx_err_set(err, HX_EINVAL, "PDF has no extractable text (scanned images?)");
    goto out;
  }
  rc = hx__docb_finish(&d, out, err);
out:
  if (ge) g_error_free(ge);
  if (doc) g_object_unref(doc);
  g_bytes_unref(bytes);
  hx__docb_release(&d);
  return rc;
}
