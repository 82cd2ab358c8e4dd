/*
 * tokenizer.c - BERT BasicTokenizer + WordPiece (see tokenizer.h for the
 * pipeline). The text is processed as one stream of code points: cleaning,
 * CJK splitting, case folding, accent stripping and punctuation splitting all
 * happen per character, and finished words go straight to WordPiece, so the
 * only buffers are one word and the output ids.
 *
 * The vocabulary is an open-addressing hash table over byte strings kept in
 * one arena; lookups take (bytes, len) so "##" + substring needs no NUL.
 */
#include "embed/tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <utf8proc.h>

#include "embed/embed_int.h"
#include "embed/utf8.h"
#include "util/hash.h"

/* Word buffer in code points; max_input_chars_per_word is clamped to it. */
#define HX_TOK_MAX_WORD 256

struct hx_tokenizer {
  char *arena;        /* owned: all token strings, back to back */
  uint32_t *off;      /* owned: off[id] start in arena, off[n] = end */
  size_t n;
  uint32_t *slots;    /* owned: id + 1, 0 = empty; size mask + 1 */
  size_t mask;
  int lower, strip, max_word;
  int cls, sep, unk;
};

static int lookup(const hx_tokenizer *t, const char *s, size_t len) {
  size_t i = (size_t)hx_fnv1a64(HX_FNV1A64_INIT, s, len) & t->mask;
  for (;;) {
    uint32_t v = t->slots[i];
    if (!v) return -1;
    uint32_t id = v - 1;
    if (t->off[id + 1] - t->off[id] == len && memcmp(t->arena + t->off[id], s, len) == 0)
      return (int)id;
    i = (i + 1) & t->mask;
  }
}

int hx_tokenizer_new(const char *const *tokens, size_t n, const hx_tokenizer_opts *o,
                     hx_tokenizer **out, hx_err *err) {
  hx_tokenizer *t = NULL;
  size_t total = 0, cap = 16;
  int rc = 0;

  *out = NULL;
  if (n == 0 || n > 0x7fffffff) return hx_err_set(err, HX_EINVAL, "vocabulary is empty or too big");
  for (size_t i = 0; i < n; i++) total += strlen(tokens[i]);
  if (total > 0xffffffffu) return hx_err_set(err, HX_EINVAL, "vocabulary too big");
  while (cap < 2 * n) cap <<= 1;
  t = calloc(1, sizeof *t);
  if (!t) goto nomem;
  t->arena = malloc(total + 1);
  t->off = malloc((n + 1) * sizeof *t->off);
  t->slots = calloc(cap, sizeof *t->slots);
  if (!t->arena || !t->off || !t->slots) goto nomem;
  t->n = n;
  t->mask = cap - 1;
  total = 0;
  for (size_t id = 0; id < n; id++) {
    size_t len = strlen(tokens[id]);
    memcpy(t->arena + total, tokens[id], len);
    t->off[id] = (uint32_t)total;
    total += len;
    t->off[id + 1] = (uint32_t)total;
    /* A duplicated token maps to its last id, as the reference's dict does. */
    size_t i = (size_t)hx_fnv1a64(HX_FNV1A64_INIT, tokens[id], len) & t->mask;
    while (t->slots[i]) {
      uint32_t o2 = t->slots[i] - 1;
      if (t->off[o2 + 1] - t->off[o2] == len && memcmp(t->arena + t->off[o2], tokens[id], len) == 0)
        break;
      i = (i + 1) & t->mask;
    }
    t->slots[i] = (uint32_t)id + 1;
  }
  t->lower = o ? o->lower : 1;
  t->strip = o ? (o->strip_accents < 0 ? t->lower : o->strip_accents) : t->lower;
  t->max_word = o && o->max_word_chars > 0 ? o->max_word_chars : 100;
  if (t->max_word > HX_TOK_MAX_WORD) t->max_word = HX_TOK_MAX_WORD;
  t->cls = lookup(t, "[CLS]", 5);
  t->sep = lookup(t, "[SEP]", 5);
  t->unk = lookup(t, "[UNK]", 5);
  if (t->cls < 0 || t->sep < 0 || t->unk < 0) {
    rc = hx_err_set(err, HX_ECORRUPT, "vocabulary lacks [CLS], [SEP] or [UNK]");
    goto out;
  }
  *out = t;
  t = NULL;
out:
  hx_tokenizer_free(t);
  return rc;
nomem:
  rc = hx_err_set(err, HX_ENOMEM, "out of memory building the vocabulary");
  goto out;
}

void hx_tokenizer_free(hx_tokenizer *t) {
  if (!t) return;
  free(t->arena);
  free(t->off);
  free(t->slots);
  free(t);
}

int hx_tokenizer_id(const hx_tokenizer *t, const char *tok) {
  return lookup(t, tok, strlen(tok));
}

size_t hx_tokenizer_vocab_size(const hx_tokenizer *t) { return t->n; }

/* ---- loading ---- */

static int load_vocab_txt(const char *path, const hx_tokenizer_opts *o, hx_tokenizer **out,
                          hx_err *err) {
  char *buf = NULL;
  const char **toks = NULL;
  size_t len, n = 0, cap = 0;
  int rc;

  rc = hx__embed_read_file(path, &buf, &len, err);
  if (rc) return rc;
  for (char *p = buf, *end = buf + len; p < end;) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *e = nl ? nl : end;
    if (!nl && e == p) break;
    if (e > p && e[-1] == '\r') e[-1] = 0;
    *e = 0;
    if (n == cap) {
      cap = cap ? cap * 2 : 1024;
      const char **nt = realloc(toks, cap * sizeof *toks);
      if (!nt) { rc = hx_err_set(err, HX_ENOMEM, "%s: out of memory", path); goto out; }
      toks = nt;
    }
    toks[n++] = p;
    p = e + 1;
  }
  rc = hx_tokenizer_new(toks, n, o, out, err);
  if (rc) rc = hx_err_set(err, rc == HX_ENOMEM ? rc : HX_ECORRUPT, "%s: %s", path, err ? err->msg : "bad vocabulary");
out:
  free(toks);
  free(buf);
  return rc;
}

/* BertNormalizer settings from tokenizer.json's "normalizer" (maybe inside a
 * Sequence). No BertNormalizer: no lower-casing, no stripping. */
static void read_normalizer(json_t *norm, hx_tokenizer_opts *o) {
  if (!json_is_object(norm)) return;
  const char *type = json_string_value(json_object_get(norm, "type"));
  if (type && strcmp(type, "Sequence") == 0) {
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(norm, "normalizers"), i, v) read_normalizer(v, o);
    return;
  }
  if (!type || strcmp(type, "BertNormalizer") != 0) return;
  json_t *lc = json_object_get(norm, "lowercase"), *sa = json_object_get(norm, "strip_accents");
  o->lower = lc ? json_is_true(lc) : 1;
  o->strip_accents = json_is_boolean(sa) ? json_is_true(sa) : -1;
}

static int load_tokenizer_json(const char *path, hx_tokenizer_opts *o, hx_tokenizer **out,
                               hx_err *err) {
  json_t *root = NULL, *model, *vocab, *v;
  const char **toks = NULL;
  const char *key;
  size_t n;
  int rc;

  rc = hx__embed_json_load(path, 0, &root, err);
  if (rc) return rc;
  model = json_object_get(root, "model");
  vocab = json_object_get(model, "vocab");
  const char *type = json_string_value(json_object_get(model, "type"));
  if (!json_is_object(vocab) || (type && strcmp(type, "WordPiece") != 0)) {
    rc = hx_err_set(err, type ? HX_EUNSUPP : HX_ECORRUPT,
                    "%s: model is not a WordPiece model with a vocab object", path);
    goto out;
  }
  json_t *pre = json_object_get(model, "continuing_subword_prefix");
  if (pre && json_is_string(pre) && strcmp(json_string_value(pre), "##") != 0) {
    rc = hx_err_set(err, HX_EUNSUPP, "%s: continuing_subword_prefix other than ## is not supported", path);
    goto out;
  }
  json_t *mw = json_object_get(model, "max_input_chars_per_word");
  if (json_is_integer(mw) && json_integer_value(mw) > 0 && json_integer_value(mw) < 100000)
    o->max_word_chars = (int)json_integer_value(mw);
  o->lower = 0;
  o->strip_accents = 0;
  read_normalizer(json_object_get(root, "normalizer"), o);
  n = json_object_size(vocab);
  toks = calloc(n ? n : 1, sizeof *toks);
  if (!toks) { rc = hx_err_set(err, HX_ENOMEM, "%s: out of memory", path); goto out; }
  json_object_foreach(vocab, key, v) {
    json_int_t id = json_integer_value(v);
    if (!json_is_integer(v) || id < 0 || (size_t)id >= n || toks[id]) {
      rc = hx_err_set(err, HX_ECORRUPT, "%s: vocab ids are not 0..%zu each once (token \"%s\")", path, n - 1, key);
      goto out;
    }
    toks[id] = key;
  }
  rc = hx_tokenizer_new(toks, n, o, out, err);
  if (rc) rc = hx_err_set(err, rc == HX_ENOMEM ? rc : HX_ECORRUPT, "%s: %s", path, err ? err->msg : "bad vocabulary");
out:
  free(toks);
  json_decref(root);
  return rc;
}

int hx_tokenizer_load(const char *dir, hx_tokenizer **out, int *model_max_len, hx_err *err) {
  char path[4096];
  json_t *cfg = NULL;
  hx_tokenizer_opts o = {1, -1, 0};
  int rc;

  *out = NULL;
  if (model_max_len) *model_max_len = 0;
  if ((rc = hx__embed_path(path, sizeof path, dir, "tokenizer_config.json", err))) return rc;
  if ((rc = hx__embed_json_load(path, 1, &cfg, err))) return rc;
  if (cfg) {
    json_t *lc = json_object_get(cfg, "do_lower_case"), *sa = json_object_get(cfg, "strip_accents");
    json_t *ml = json_object_get(cfg, "model_max_length");
    if (json_is_boolean(lc)) o.lower = json_is_true(lc);
    if (json_is_boolean(sa)) o.strip_accents = json_is_true(sa);
    if (model_max_len && json_is_integer(ml) && json_integer_value(ml) > 2 &&
        json_integer_value(ml) < 1000000)
      *model_max_len = (int)json_integer_value(ml);
    json_decref(cfg);
  }
  if ((rc = hx__embed_path(path, sizeof path, dir, "tokenizer.json", err))) return rc;
  if (access(path, F_OK) == 0) return load_tokenizer_json(path, &o, out, err);
  if ((rc = hx__embed_path(path, sizeof path, dir, "vocab.txt", err))) return rc;
  if (access(path, F_OK) != 0)
    return hx_err_set(err, HX_ENOENT, "%s: no such file (and no tokenizer.json)", path);
  return load_vocab_txt(path, &o, out, err);
}

/* ---- character classes (as the reference's _is_* helpers) ---- */

static int is_ws(int32_t c) {
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return 1;
  return utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
}

/* Whitespace that str.split() honours after cleaning: Zs, Zl, Zp. */
static int is_split_ws(int32_t c) {
  if (c == ' ') return 1;
  utf8proc_category_t k = utf8proc_category(c);
  return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

static int is_control(int32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return 0;
  switch (utf8proc_category(c)) {
  case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF:
  case UTF8PROC_CATEGORY_CS: case UTF8PROC_CATEGORY_CO:
    return 1;
  default:
    return 0;
  }
}

static int is_punct(int32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
    return 1;
  utf8proc_category_t k = utf8proc_category(c);
  return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

static int is_cjk(int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* ---- encoding ---- */

typedef struct enc {
  const hx_tokenizer *t;
  int32_t *ids;
  int cap;            /* room for word pieces (max_len - 2) */
  int n;              /* pieces stored */
  int total;          /* pieces produced */
  int32_t word[HX_TOK_MAX_WORD + 1];
  int wlen;           /* code points in word (saturates at HX_TOK_MAX_WORD + 1) */
  int wlong;          /* word exceeds max_word chars */
} enc;

static void push(enc *s, int id) {
  if (s->n < s->cap) s->ids[s->n++] = id;
  s->total++;
}

static void flush(enc *s) {
  const hx_tokenizer *t = s->t;
  char buf[2 + 4 * HX_TOK_MAX_WORD];
  int off[HX_TOK_MAX_WORD + 1];
  int pieces[HX_TOK_MAX_WORD];
  int np = 0, m = s->wlen;

  if (m == 0) return;
  s->wlen = 0;
  if (s->wlong || m > t->max_word) {
    s->wlong = 0;
    push(s, t->unk);
    return;
  }
  /* utf8 of the word at buf + 2, char i starts at buf + 2 + off[i] */
  off[0] = 0;
  for (int i = 0; i < m; i++)
    off[i + 1] = off[i] + (int)utf8proc_encode_char(s->word[i], (utf8proc_uint8_t *)buf + 2 + off[i]);
  for (int start = 0; start < m;) {
    int id = -1, end;
    for (end = m; end > start; end--) {
      const char *p = buf + 2 + off[start];
      size_t len = (size_t)(off[end] - off[start]);
      if (start > 0) {
        /* "##" + piece: write the prefix just before the piece */
        char save0 = p[-2], save1 = p[-1];
        char *w = (char *)p;
        w[-2] = '#';
        w[-1] = '#';
        id = lookup(t, p - 2, len + 2);
        w[-2] = save0;
        w[-1] = save1;
      } else {
        id = lookup(t, p, len);
      }
      if (id >= 0) break;
    }
    if (id < 0) {
      push(s, t->unk);
      return;
    }
    pieces[np++] = id;
    start = end;
  }
  for (int i = 0; i < np; i++) push(s, pieces[i]);
}

static void add_char(enc *s, int32_t c) {
  if (s->wlen < HX_TOK_MAX_WORD) s->word[s->wlen++] = c;
  else s->wlong = 1;
}

/* Case folding + accent stripping of one character, then punctuation split. */
static void emit(enc *s, int32_t c) {
  int32_t low[2], dec[32];
  int nl = 1;

  low[0] = c;
  if (s->t->lower) {
    if (c == 0x130) { low[0] = 'i'; low[1] = 0x307; nl = 2; }
    else low[0] = utf8proc_tolower(c);
  }
  for (int i = 0; i < nl; i++) {
    int nd = 1;
    dec[0] = low[i];
    if (s->t->strip) {
      int last = 0;
      utf8proc_ssize_t k = utf8proc_decompose_char(low[i], dec, 32, UTF8PROC_DECOMPOSE, &last);
      nd = k > 0 && k <= 32 ? (int)k : 1;
      if (k <= 0 || k > 32) dec[0] = low[i];
    }
    for (int j = 0; j < nd; j++) {
      int32_t d = dec[j];
      if (s->t->strip && utf8proc_category(d) == UTF8PROC_CATEGORY_MN) continue;
      if (is_punct(d)) {
        flush(s);
        add_char(s, d);
        flush(s);
      } else {
        add_char(s, d);
      }
    }
  }
}

int hx_tokenizer_encode(const hx_tokenizer *t, const char *text, size_t len, int max_len,
                        int32_t *ids, int *n, int *truncated, hx_err *err) {
  enc s;
  const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
  size_t i = 0;

  if (max_len < 2) return hx_err_set(err, HX_EINVAL, "max_len must be at least 2");
  memset(&s, 0, sizeof s);
  s.t = t;
  s.ids = ids + 1;
  s.cap = max_len - 2;
  while (i < len) {
    int32_t c;
    int rc = hx_utf8_next(p, len, &i, &c, err);
    if (rc) return rc;
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_ws(c) || is_split_ws(c)) {
      flush(&s);
      continue;
    }
    if (is_cjk(c)) {
      flush(&s);
      emit(&s, c);
      flush(&s);
      continue;
    }
    emit(&s, c);
  }
  flush(&s);
  ids[0] = t->cls;
  ids[s.n + 1] = t->sep;
  *n = s.n + 2;
  if (truncated) *truncated = s.total - s.n;
  return 0;
}
