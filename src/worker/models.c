/* models.c - lazily opened, shared embedders. */
#include "worker/models.h"
#include "util/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPEN 16

struct hx_models {
  const hx_config *cfg;
  char default_name[64];
  pthread_mutex_t mu;
  struct { char name[64]; hx_embedder *e; } open[MAX_OPEN];
  int nopen;
};

int hx_models_check(hx_models *m, const char *name, hx_model_info *out, hx_err *err) {
  hx_model_info info;
  if (!name || !*name) name = m->default_name;
  int rc = hx_model_describe(m->cfg->models_dir, name, m->cfg->vector_size, &info, err);
  if (rc == HX_ENOENT) return hx_err_setst(err, HX_ENOENT, 400, "Unknown model: %s", name);
  if (rc) return rc;
  if (info.dim != m->cfg->vector_size)
    return hx_err_setst(err, HX_EINVAL, 422,
                        "Model %s produces %d-dimensional vectors but the collection holds %d (VECTOR_SIZE)", name,
                        info.dim, m->cfg->vector_size);
  if (out) *out = info;
  return 0;
}

int hx_models_new(const hx_config *cfg, hx_models **out, hx_err *err) {
  hx_models *m = calloc(1, sizeof *m);
  if (!m) return hx_err_set(err, HX_ENOMEM, "out of memory");
  m->cfg = cfg;
  pthread_mutex_init(&m->mu, NULL);
  int rc = 0;
  if (cfg->embedding_model[0]) {
    snprintf(m->default_name, sizeof m->default_name, "%s", cfg->embedding_model);
    rc = hx_models_check(m, m->default_name, NULL, err);
    if (rc) {
      char why[sizeof err->msg];
      snprintf(why, sizeof why, "%s", err->msg);
      rc = hx_err_set(err, HX_ECONFIG, "EMBEDDING_MODEL_NAME=%s: %s", m->default_name, why);
    }
  } else {
    /* not chosen: the engine's pick if it fits VECTOR_SIZE, else the built-in one */
    rc = hx_models_default(cfg->models_dir, m->default_name, sizeof m->default_name, err);
    if (!rc && hx_models_check(m, m->default_name, NULL, err)) {
      hx_log(HX_LOG_WARN, "default_model_unusable",
             json_pack("{s:s,s:s,s:s}", "model", m->default_name, "reason", err->msg, "using", "lexical"));
      snprintf(m->default_name, sizeof m->default_name, "lexical");
    }
  }
  if (rc) {
    hx_models_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

void hx_models_free(hx_models *m) {
  if (!m) return;
  for (int i = 0; i < m->nopen; i++) hx_embedder_free(m->open[i].e);
  pthread_mutex_destroy(&m->mu);
  free(m);
}

const char *hx_models_default_name(const hx_models *m) { return m->default_name; }

int hx_models_get(hx_models *m, const char *name, hx_embedder **out, hx_err *err) {
  if (!name || !*name) name = m->default_name;
  int rc = 0;
  pthread_mutex_lock(&m->mu);  /* held while opening: a model is loaded once, not by every worker */
  for (int i = 0; i < m->nopen; i++)
    if (!strcmp(m->open[i].name, name)) {
      *out = m->open[i].e;
      goto out;
    }
  if (m->nopen == MAX_OPEN) {
    rc = hx_err_set(err, HX_EBUSY, "too many models open (max %d)", MAX_OPEN);
    goto out;
  }
  hx_embedder *e = NULL;
  rc = hx_embedder_open(m->cfg->models_dir, name, m->cfg->vector_size, &e, err);
  if (rc) goto out;
  hx_embedder_set_threads(e, hx_embed_threads_for(m->cfg->workers));
  snprintf(m->open[m->nopen].name, sizeof m->open[m->nopen].name, "%s", name);
  m->open[m->nopen++].e = e;
  *out = e;
  const hx_model_info *info = hx_embedder_info(e);
  hx_log(HX_LOG_INFO, "model_loaded", json_pack("{s:s,s:s,s:i,s:i,s:s}", "model", name, "kind", info->kind, "dim",
                                                info->dim, "max_tokens", info->max_tokens, "version", info->version));
out:
  pthread_mutex_unlock(&m->mu);
  return rc;
}
