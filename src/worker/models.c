/*
 * models.c - lazily opened, shared embedders, and the per-request model check.
 *
 * Why the check is cached: every POST /vectors/embed (and every search naming
 * a model) asks whether its model exists and what it produces. Describing a
 * model from scratch lists the models directory (for the default flag),
 * parses config.json, modules.json and the pooling and sentence-transformers
 * configs and stats every model file for its version hash: dozens of system
 * calls and several JSON parses per request. The answer changes only when the
 * model's files change, so it is kept per model name and reused while the
 * identity (device, inode, mtime) of both the models directory and the
 * model's own directory is what it was when the answer was computed.
 *
 * What a directory's mtime sees: files added, removed or renamed into place
 * (how installers, `git` and Hugging Face downloads replace files), or an
 * explicit `touch` of the directory. A file rewritten in place (same name,
 * same inode) is seen once the directory is touched or the process restarts;
 * embedders already opened by workers are kept for the process's life anyway.
 *
 * Racy entries: a directory changed again within the same timestamp tick as
 * the moment it was read would keep its mtime. So an answer is reused only
 * when both directories' mtimes were at least RACY_SEC older than the clock
 * just before they were read (one second covers file systems with whole-second
 * timestamps); a younger answer is recomputed on every call until it ages.
 *
 * Threads: the cache has its own mutex (never the loading mutex, which is held
 * for seconds while weights load); describing runs outside it, so two requests
 * may describe the same model at once and the later one's answer is kept.
 */
#include "worker/models.h"
#include "util/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_OPEN 16
#define MAX_DESCRIBED 32
#define RACY_SEC 1

/* What identifies a directory's state: it was replaced (dev, ino) or its
 * entries changed (mtime). exists = 0 for a directory that is not there. */
typedef struct dirstamp {
  int exists;
  dev_t dev;
  ino_t ino;
  struct timespec mtime;
} dirstamp;

typedef struct described {
  char name[64];            /* "" = free slot */
  dirstamp root, dir;       /* models directory, the model's directory (lexical: none) */
  hx_model_info info;
} described;

struct hx_models {
  const hx_config *cfg;
  char default_name[64];
  pthread_mutex_t mu;       /* open[], nopen; held while a model loads */
  struct { char name[64]; hx_embedder *e; } open[MAX_OPEN];
  int nopen;
  pthread_mutex_t dmu;      /* desc[], dnext, ndescribes */
  described desc[MAX_DESCRIBED];
  int dnext;
  unsigned long ndescribes;
};

static void stamp_of(const char *path, dirstamp *st) {
  struct stat sb;
  memset(st, 0, sizeof *st);
  if (!path || !*path || stat(path, &sb) != 0) return;
  st->exists = 1;
  st->dev = sb.st_dev;
  st->ino = sb.st_ino;
  st->mtime = sb.st_mtim;
}

static int stamp_eq(const dirstamp *a, const dirstamp *b) {
  return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->mtime.tv_sec == b->mtime.tv_sec &&
         a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The directory's mtime is older than the clock read before it by RACY_SEC. */
static int stamp_settled(const dirstamp *st, const struct timespec *before) {
  return !st->exists || st->mtime.tv_sec + RACY_SEC < before->tv_sec ||
         (st->mtime.tv_sec + RACY_SEC == before->tv_sec && st->mtime.tv_nsec < before->tv_nsec);
}

/* The cached answer for name when both stamps still match; 1 = hit. */
static int described_get(hx_models *m, const char *name, const dirstamp *root, const dirstamp *dir,
                         hx_model_info *out) {
  int hit = 0;
  pthread_mutex_lock(&m->dmu);
  for (int i = 0; i < MAX_DESCRIBED && !hit; i++) {
    const described *d = &m->desc[i];
    if (d->name[0] && strcmp(d->name, name) == 0 && stamp_eq(&d->root, root) && stamp_eq(&d->dir, dir)) {
      *out = d->info;
      hit = 1;
    }
  }
  pthread_mutex_unlock(&m->dmu);
  return hit;
}

static void described_put(hx_models *m, const char *name, const dirstamp *root, const dirstamp *dir,
                          const hx_model_info *info) {
  pthread_mutex_lock(&m->dmu);
  described *d = NULL;
  for (int i = 0; i < MAX_DESCRIBED && !d; i++)
    if (strcmp(m->desc[i].name, name) == 0) d = &m->desc[i];
  if (!d) {   /* more names than slots: replace round-robin */
    d = &m->desc[m->dnext];
    m->dnext = (m->dnext + 1) % MAX_DESCRIBED;
  }
  snprintf(d->name, sizeof d->name, "%s", name);
  d->root = *root;
  d->dir = *dir;
  d->info = *info;
  pthread_mutex_unlock(&m->dmu);
}

/* hx_model_describe through the cache. */
static int describe_cached(hx_models *m, const char *name, hx_model_info *out, hx_err *err) {
  char dir[4096];
  dirstamp root, md;
  struct timespec before;
  int rc;

  clock_gettime(CLOCK_REALTIME, &before);
  /* resolving refuses names of 64 bytes or more: every cached name fits */
  if ((rc = hx_model_dir(m->cfg->models_dir, name, dir, sizeof dir, err))) return rc;
  stamp_of(m->cfg->models_dir, &root);
  stamp_of(dir, &md);
  if (described_get(m, name, &root, &md, out)) return 0;
  if ((rc = hx_model_describe(m->cfg->models_dir, name, m->cfg->vector_size, out, err))) return rc;
  pthread_mutex_lock(&m->dmu);
  m->ndescribes++;
  pthread_mutex_unlock(&m->dmu);
  if (stamp_settled(&root, &before) && stamp_settled(&md, &before)) described_put(m, name, &root, &md, out);
  return 0;
}

int hx_models_check(hx_models *m, const char *name, hx_model_info *out, hx_err *err) {
  hx_model_info info;
  if (!name || !*name) name = m->default_name;
  int rc = describe_cached(m, name, &info, err);
  if (rc == HX_ENOENT) return hx_err_setst(err, HX_ENOENT, 400, "Unknown model: %s", name);
  if (rc) return rc;
  if (info.dim != m->cfg->vector_size)
    return hx_err_setst(err, HX_EINVAL, 422,
                        "Model %s produces %d-dimensional vectors but the collection holds %d (VECTOR_SIZE)", name,
                        info.dim, m->cfg->vector_size);
  if (out) *out = info;
  return 0;
}

unsigned long hx_models_describes(hx_models *m) {
  pthread_mutex_lock(&m->dmu);
  unsigned long n = m->ndescribes;
  pthread_mutex_unlock(&m->dmu);
  return n;
}

int hx_models_new(const hx_config *cfg, hx_models **out, hx_err *err) {
  hx_models *m = calloc(1, sizeof *m);
  if (!m) return hx_err_set(err, HX_ENOMEM, "out of memory");
  m->cfg = cfg;
  pthread_mutex_init(&m->mu, NULL);
  pthread_mutex_init(&m->dmu, NULL);
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
  pthread_mutex_destroy(&m->dmu);
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
  hx_log(HX_LOG_INFO, "model_loaded",
         json_pack("{s:s,s:s,s:i,s:i,s:s,s:s}", "model", name, "kind", info->kind, "dim", info->dim, "max_tokens",
                   info->max_tokens, "version", info->version, "precision", info->precision));
out:
  pthread_mutex_unlock(&m->mu);
  return rc;
}
