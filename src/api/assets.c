/*
 * assets.c - document upload (POST /assets) and the asset record
 * (GET /assets/{asset_id}).
 *
 * Uploads are streamed (http/server.h hx_stream_handler): the body goes piece
 * by piece into a temporary file under HEIMDEX_DATA_DIR/uploads while its
 * SHA-256 is computed, so a file is never held whole in memory. Two forms:
 *   - multipart/form-data with a part "file" (its Content-Type is the declared
 *     type) and a field "asset_id" -- parsed by libmicrohttpd's incremental
 *     post processor;
 *   - any other Content-Type: the raw body is the file, asset_id comes from
 *     the query string.
 * Checks, in order: auth, rate limit (upload class), asset_id, declared type
 * known (415), size (413, HEIMDEX_MAX_UPLOAD_BYTES, checked against
 * Content-Length first and while bytes arrive), then at the end: empty (422)
 * and sniffed content vs declaration (415) with extract.h's own rules.
 *
 * The same file uploaded again under the same asset is the same job (the
 * asset record keeps the latest upload's SHA-256), unless that job failed:
 * then the upload is a retry. A different file is a new version: a new job
 * whose key (the original's formula) names the content and the version it
 * replaces (see new_version). The file is renamed to uploads/<job key> before the job is created, so the
 * worker always finds it; the worker deletes it when the job ends.
 */
#include "api/app.h"
#include "api/handlers.h"
#include "api/validate.h"
#include "extract/extract.h"
#include "jobs/jobkey.h"
#include "util/hash.h"
#include "util/log.h"

#include <errno.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNIFF_HEAD 4096
#define FIELD_MAX (HX_ASSET_ID_MAX * 4)

typedef struct upload {
  hx_app *app;                  /* borrowed */
  hx_principal who;
  struct MHD_PostProcessor *pp; /* multipart only */
  FILE *f;
  char tmp[1024];               /* temporary file, "" once renamed or removed */
  EVP_MD_CTX *sha;
  long long bytes, body_bytes;
  unsigned char head[SNIFF_HEAD];
  size_t head_len;
  char asset_id[FIELD_MAX + 1];
  int multipart;
  int have_asset, asset_too_long, saw_file, file_parts;
  char declared[128];           /* Content-Type of the file (part) */
  char filename[256];
  hx_resp *resp;                /* where the post processor's callback reports */
  int failed;
} upload;

/* Fill resp with a 413 naming the limit. */
static int too_large(upload *u, hx_resp *resp) {
  hx_resp_detail(resp, 413, "File too large: the limit is %ld bytes (HEIMDEX_MAX_UPLOAD_BYTES)",
                 u->app->cfg.max_upload_bytes);
  return -1;
}

static int file_bytes(upload *u, const char *data, size_t n, hx_resp *resp) {
  if (!n) return 0;
  if (u->bytes + (long long)n > u->app->cfg.max_upload_bytes) return too_large(u, resp);
  if (u->head_len < SNIFF_HEAD) {
    size_t k = SNIFF_HEAD - u->head_len < n ? SNIFF_HEAD - u->head_len : n;
    memcpy(u->head + u->head_len, data, k);
    u->head_len += k;
  }
  if (fwrite(data, 1, n, u->f) != n) {
    hx_log(HX_LOG_ERROR, "upload_write_failed", json_pack("{s:s,s:s}", "path", u->tmp, "error", strerror(errno)));
    hx_resp_detail(resp, 507, "Cannot store the upload: %s", strerror(errno));
    return -1;
  }
  EVP_DigestUpdate(u->sha, data, n);
  u->bytes += (long long)n;
  return 0;
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                               const char *content_type, const char *transfer_encoding, const char *data,
                               uint64_t off, size_t size) {
  (void)kind;
  (void)transfer_encoding;
  upload *u = cls;
  if (u->failed) return MHD_NO;
  if (!strcmp(key, "file")) {
    if (off == 0 && !u->saw_file) {
      u->saw_file = 1;
      u->file_parts++;
      snprintf(u->declared, sizeof u->declared, "%s", content_type ? content_type : "");
      snprintf(u->filename, sizeof u->filename, "%s", filename ? filename : "");
    } else if (off == 0) {
      u->file_parts++;  /* a second "file" part: refused at the end */
    }
    if (u->file_parts == 1 && file_bytes(u, data, size, u->resp)) {
      u->failed = 1;
      return MHD_NO;
    }
  } else if (!strcmp(key, "asset_id")) {
    u->have_asset = 1;
    size_t have = strlen(u->asset_id);
    if (off + size > FIELD_MAX || have != off) {
      u->asset_too_long = 1;
    } else {
      memcpy(u->asset_id + off, data, size);
      u->asset_id[off + size] = '\0';
    }
  }
  return MHD_YES;
}

static void upload_release(void *st) {
  upload *u = st;
  if (!u) return;
  if (u->pp) MHD_destroy_post_processor(u->pp);
  if (u->f) fclose(u->f);
  if (u->tmp[0]) unlink(u->tmp);
  EVP_MD_CTX_free(u->sha);
  free(u);
}

static int upload_begin(void *a, hx_req *req, hx_resp *resp, void **state) {
  hx_app *app = a;
  upload *u = calloc(1, sizeof *u);
  if (!u) {
    hx_resp_detail(resp, 500, "out of memory");
    return -1;
  }
  *state = u;
  u->app = app;
  u->resp = resp;
  if (hx_api_auth_or_reply(app, req, resp, &u->who) || hx_api_rate_or_reply(app, &u->who, HX_RL_UPLOAD, resp))
    return -1;
  const char *ct = hx_req_header(req, "Content-Type");
  const char *cl = hx_req_header(req, "Content-Length");
  int multipart = u->multipart = ct && !strncasecmp(ct, "multipart/form-data", 19);
  if (multipart) {
    u->pp = MHD_create_post_processor((struct MHD_Connection *)req->conn, 64 * 1024, on_part, u);
    if (!u->pp) {
      hx_resp_detail(resp, 400, "Malformed multipart/form-data request: missing or invalid boundary");
      return -1;
    }
  } else {
    const char *q = hx_req_query(req, "asset_id");
    if (q) {
      u->have_asset = 1;
      if (strlen(q) > FIELD_MAX) u->asset_too_long = 1;
      else snprintf(u->asset_id, sizeof u->asset_id, "%s", q);
    }
    snprintf(u->declared, sizeof u->declared, "%s", ct ? ct : "");
    const char *fn = hx_req_query(req, "filename");
    snprintf(u->filename, sizeof u->filename, "%s", fn ? fn : "");
    u->saw_file = 1;
    u->file_parts = 1;
    /* the declared type is known before any byte: refuse an unsupported one now */
    const char *decl = NULL, *sn = NULL;
    hx_err err = {0};
    if (hx_extract_check("x", 1, 1, u->declared, &decl, &sn, &err) == HX_EUNSUPP &&
        !strncmp(err.msg, "unsupported declared type", 25)) {
      hx_resp_detail(resp, 415, "Unsupported Content-Type '%s': upload PDF, DOCX, HTML, plain text, Markdown, SRT or "
                     "WebVTT (or multipart/form-data with a file part)", u->declared);
      return -1;
    }
  }
  /* a body announced over the limit is refused before it is read (multipart
   * framing adds a little, so it gets 64 KiB of slack) */
  long long slack = multipart ? 65536 : 0;
  if (cl && strtoll(cl, NULL, 10) > app->cfg.max_upload_bytes + slack) return too_large(u, resp);
  char dir[768];
  snprintf(dir, sizeof dir, "%s/uploads", app->cfg.data_dir);
  if (mkdir(dir, 0700) && errno != EEXIST) {
    hx_resp_detail(resp, 500, "Cannot create the upload directory: %s", strerror(errno));
    return -1;
  }
  hx_uuid id;
  char ids[HX_UUID_STRLEN + 1];
  hx_uuid_v4(&id);
  hx_uuid_str(&id, ids);
  snprintf(u->tmp, sizeof u->tmp, "%s/tmp-%s", dir, ids);
  u->f = fopen(u->tmp, "wbx");
  u->sha = EVP_MD_CTX_new();
  if (!u->f || !u->sha || EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL) != 1) {
    if (!u->f) u->tmp[0] = '\0';
    hx_resp_detail(resp, 500, "Cannot store the upload: %s", strerror(errno));
    return -1;
  }
  return 0;
}

static int upload_data(void *st, const char *data, size_t n, hx_resp *resp) {
  upload *u = st;
  u->body_bytes += (long long)n;
  if (!u->pp) return file_bytes(u, data, n, resp);
  if (u->body_bytes > u->app->cfg.max_upload_bytes + 65536) return too_large(u, resp);
  if (MHD_post_process(u->pp, data, n) != MHD_YES) {
    if (!u->failed) hx_resp_detail(resp, 400, "Malformed multipart/form-data body");
    return -1;
  }
  return 0;
}

static int valid_utf8(const char *s) {
  json_t *j = json_string(s);   /* jansson refuses invalid UTF-8 */
  json_decref(j);
  return j != NULL;
}

/* Validation of what arrived; 0 = fine, else resp is filled. */
static int upload_check(upload *u, const char **type, hx_resp *resp) {
  json_t *errs = json_array();
  if (!u->have_asset)
    json_array_append_new(errs, json_pack("{s:s,s:[ss],s:s,s:n}", "type", "missing", "loc", u->multipart ? "body" : "query",
                                          "asset_id", "msg", "Field required", "input"));
  else if (u->asset_too_long || !u->asset_id[0] || !valid_utf8(u->asset_id))
    json_array_append_new(errs, json_pack("{s:s,s:[ss],s:s,s:s}", "type", "string_type", "loc",
                                          u->multipart ? "body" : "query", "asset_id", "msg",
                                          "asset_id must be 1 to 256 characters of valid UTF-8", "input", ""));
  if (u->multipart && !u->saw_file)
    json_array_append_new(errs, json_pack("{s:s,s:[ss],s:s,s:n}", "type", "missing", "loc", "body", "file", "msg",
                                          "Field required", "input"));
  if (u->file_parts > 1)
    json_array_append_new(errs, json_pack("{s:s,s:[ss],s:s,s:n}", "type", "too_long", "loc", "body", "file", "msg",
                                          "Upload one file per request", "input"));
  if (json_array_size(errs)) {
    /* the input of an invalid asset_id is not echoed: it may not be UTF-8 */
    hx_resp_json(resp, 422, json_pack("{s:o}", "detail", errs));
    return -1;
  }
  json_decref(errs);
  const char *decl = NULL;
  hx_err err = {0};
  int rc = hx_extract_check(u->head, u->head_len, (size_t)u->bytes, u->declared, &decl, type, &err);
  if (rc == HX_EINVAL) {
    hx_resp_detail(resp, 422, "Empty file: the upload has no content");
    return -1;
  }
  if (rc) {
    hx_resp_detail(resp, 415, "Unsupported file: %s (supported: PDF, DOCX, HTML, plain text, Markdown, SRT, WebVTT)",
                   err.msg);
    return -1;
  }
  return 0;
}

/* Store the upload as the asset's next version: move the file to
 * uploads/<job key>, create the job, point the asset record at it. The key is
 * the original's formula over {asset_id, content_sha256, model, model_ver,
 * replaces}: identical uploads racing each other meet on one job, while going
 * back to an earlier file (A, B, A) is new work because it replaces another
 * version. 0 = done (id, *status set); else resp is filled. */
static int new_version(upload *u, const char *model, const char *sha, const char *replaces,
                       char id[HX_UUID_STRLEN + 1], const char **status, hx_resp *resp) {
  hx_app *app = u->app;
  json_t *key = json_pack("{s:s,s:s,s:s,s:s,s:s}", "asset_id", u->asset_id, "content_sha256", sha, "model", model,
                          "model_ver", "v1", "replaces", replaces);
  char jk[HX_JOB_KEY_LEN + 1], path[1024];
  if (hx_job_key(u->who.org_id, "process_asset", key, jk)) {
    json_decref(key);
    hx_resp_detail(resp, 500, "cannot compute job key");
    return -1;
  }
  snprintf(path, sizeof path, "%s/uploads/%s", app->cfg.data_dir, jk);
  if (rename(u->tmp, path)) {
    json_decref(key);
    hx_resp_detail(resp, 500, "Cannot store the upload: %s", strerror(errno));
    return -1;
  }
  u->tmp[0] = '\0';
  json_t *kwargs = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s}", "org_id", u->who.org_id, "asset_id", u->asset_id,
                             "path", path, "declared_type", u->declared, "filename", u->filename, "content_sha256", sha,
                             "bytes", (json_int_t)u->bytes, "model", model);
  json_t *args = json_array();
  int rc = hx_api_create_job_or_reply(app, &u->who, "process_asset", "process_asset", key, args, kwargs, resp, id);
  json_decref(args);
  json_decref(kwargs);
  json_decref(key);
  if (rc) {
    unlink(path);
    return -1;
  }
  hx_job_view v;
  hx_err err = {0};
  *status = "pending";
  if (app->ledger->ops->get(app->ledger, id, &v, &err) == 0) {
    /* a duplicate of a job that already ended: nobody will read the file */
    if (hx_job_status_terminal(v.status)) unlink(path);
    *status = hx_job_status_api(v.status);
    hx_job_view_release(&v);
  }
  hx_asset_view av = {0};
  snprintf(av.org_id, sizeof av.org_id, "%s", u->who.org_id);
  snprintf(av.asset_id, sizeof av.asset_id, "%s", u->asset_id);
  snprintf(av.job_id, sizeof av.job_id, "%s", id);
  snprintf(av.filename, sizeof av.filename, "%s", u->filename);
  snprintf(av.content_sha256, sizeof av.content_sha256, "%s", sha);
  av.bytes = u->bytes;
  if (app->ledger->ops->asset_put(app->ledger, &av, &err)) {
    hx_resp_err(resp, &err);
    return -1;
  }
  return 0;
}

static void upload_end(void *st, hx_req *req, hx_resp *resp) {
  (void)req;
  upload *u = st;
  hx_app *app = u->app;
  if (u->pp) {
    MHD_destroy_post_processor(u->pp);  /* flushes the last part */
    u->pp = NULL;
    if (u->failed) return;  /* resp filled by the callback */
  }
  if (fflush(u->f) || fsync(fileno(u->f)) || fclose(u->f)) {
    u->f = NULL;
    hx_resp_detail(resp, 507, "Cannot store the upload: %s", strerror(errno));
    return;
  }
  u->f = NULL;
  const char *type = NULL;
  if (upload_check(u, &type, resp)) return;
  unsigned char md[32];
  char sha[65];
  EVP_DigestFinal_ex(u->sha, md, NULL);
  hx_hex(md, 32, sha);
  const char *model = hx_models_default_name(app->models);
  hx_asset_view prev;
  hx_err err = {0};
  int rc = app->ledger->ops->asset_get(app->ledger, u->who.org_id, u->asset_id, &prev, &err);
  if (rc && rc != HX_ENOENT) {
    hx_resp_err(resp, &err);
    return;
  }
  int have_prev = rc == 0;
  char id[HX_UUID_STRLEN + 1];
  const char *status = NULL;
  hx_job_view v;
  if (have_prev && !strcmp(prev.content_sha256, sha) && (!prev.model[0] || !strcmp(prev.model, model)) &&
      app->ledger->ops->get(app->ledger, prev.job_id, &v, &err) == 0) {
    /* the version the asset holds or is getting already: its job -- unless
     * that failed, then this upload is the retry */
    if (strcmp(hx_job_status_api(v.status), "failed") && strcmp(hx_job_status_api(v.status), "canceled")) {
      snprintf(id, sizeof id, "%s", prev.job_id);
      status = hx_job_status_api(v.status);
    }
    hx_job_view_release(&v);
  }
  if (!status && new_version(u, model, sha, have_prev ? prev.job_id : "", id, &status, resp)) return;
  hx_resp_json(resp, 200, json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "job_id", id, "asset_id", u->asset_id, "status",
                                    status, "bytes", (json_int_t)u->bytes, "content_type", type, "content_sha256",
                                    sha));
}

const hx_stream_handler hx_api_assets_upload = {upload_begin, upload_data, upload_end, upload_release};

void hx_api_assets_get(void *a, hx_req *req, hx_resp *resp) {
  hx_app *app = a;
  hx_principal who;
  if (hx_api_auth_or_reply(app, req, resp, &who)) return;
  hx_asset_view av;
  hx_err err = {0};
  int rc = app->ledger->ops->asset_get(app->ledger, who.org_id, req->params[0], &av, &err);
  if (rc == HX_ENOENT) {
    hx_resp_detail(resp, 404, "Asset not found");
    return;
  }
  if (rc) {
    hx_resp_err(resp, &err);
    return;
  }
  hx_job_view v;
  memset(&v, 0, sizeof v);
  int have_job = app->ledger->ops->get(app->ledger, av.job_id, &v, &err) == 0;
  char c[40], u[40];
  hx_iso8601(av.created_at, c);
  hx_iso8601(av.updated_at, u);
  hx_resp_json(resp, 200,
               json_pack("{s:s,s:s,s:s,s:s?,s:I,s:I,s:s?,s:s?,s:s?,s:i,s:s?,s:s,s:s}", "asset_id", av.asset_id, "job_id",
                         av.job_id, "status", have_job ? hx_job_status_api(v.status) : av.status, "source_type",
                         av.source_type[0] ? av.source_type : NULL, "chunk_count", (json_int_t)av.chunk_count, "bytes",
                         (json_int_t)av.bytes, "filename", av.filename[0] ? av.filename : NULL, "model",
                         av.model[0] ? av.model : NULL, "model_ver", av.model_ver[0] ? av.model_ver : NULL, "progress",
                         have_job ? v.progress : 0, "error", have_job ? v.error : NULL, "created_at", c, "updated_at",
                         u));
  if (have_job) hx_job_view_release(&v);
}
