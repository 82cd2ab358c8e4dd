#!/usr/bin/python3
"""Generate the tiny random BERT fixture the C tests check against.

Why: the C forward pass and tokenizer must agree with an independent
implementation. This script builds a tiny BERT with random weights, computes
its sentence embeddings with plain PyTorch math (float64, written here, not
our C code), tokenizes with a Python port of Hugging Face's BertTokenizer
logic (unicodedata-based, independent of utf8proc), and writes everything in
the Hugging Face / sentence-transformers layout:

  tests/embed/tiny-bert/        F32 weights, vocab.txt, tokenizer_config.json
  tests/embed/tiny-bert-f16/    F16 weights, tokenizer.json (no vocab.txt)
  tests/embed/tiny-bert-bf16/   BF16 weights, tensor names with "bert." prefix
  each with config.json, modules.json, 1_Pooling/config.json,
  sentence_bert_config.json and reference.json (token ids + embeddings
  computed from that directory's own rounded weights);
  tests/embed/tiny-bert-dense/  tiny-bert's weights with mean_sqrt_len_tokens
  pooling and two sentence-transformers Dense modules (Tanh with bias,
  Identity without), references also with lasttoken pooling.

Run: /usr/bin/python3 tests/embed/make_fixture.py   (needs python3-torch, python3-numpy)
The output is committed so `make test` does not need torch.
"""
import json
import math
import os
import shutil
import struct
import sys
import unicodedata

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
H, LAYERS, HEADS, INTER, MAX_POS, MAX_SEQ = 32, 2, 4, 48, 32, 24
EPS = 1e-12

# ---------------------------------------------------------------- vocabulary
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["¿", "「", "」", "—", "…"]
WORDS = ["the", "is", "and", "of", "to", "in", "hello", "world", "search", "vector",
         "embed", "cafe", "naive", "resume", "run", "un", "play", "token", "text", "long",
         "word", "model", "fast", "ecole", "über", "éa", "zurich", "data", "base"]
PIECES = ["##s", "##ing", "##ning", "##aff", "##able", "##ed", "##er", "##ding", "##ize",
          "##a", "##b", "##c", "##d", "##e", "##l", "##o", "##r", "##x", "##z", "##1", "##2"]
CJK = ["中", "文", "日", "本", "语", "字", "人"]
LETTERS = list("abcdefghijklmnopqrstuvwxyz0123456789")
VOCAB = SPECIAL + PUNCT + WORDS + PIECES + CJK + LETTERS
assert len(VOCAB) == len(set(VOCAB))
V = len(VOCAB)
IDS = {t: i for i, t in enumerate(VOCAB)}

# --------------------------------------- reference tokenizer (BertTokenizer)
def is_ws(c):
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"

def is_control(c):
    if c in "\t\n\r":
        return False
    return unicodedata.category(c).startswith("C")

def is_punct(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")

def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or
            0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or
            0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)

def basic_tokenize(text, lower=True, strip=None):
    strip = lower if strip is None else strip
    out = []
    for c in text:
        cp = ord(c)
        if cp == 0 or cp == 0xFFFD or is_control(c):
            continue
        out.append(" " if is_ws(c) else c)
    text = "".join(" " + c + " " if is_cjk(ord(c)) else c for c in out)
    words = []
    for tok in text.split():
        if lower:
            tok = tok.lower()
        if strip:
            tok = "".join(c for c in unicodedata.normalize("NFD", tok) if unicodedata.category(c) != "Mn")
        cur = []
        for c in tok:
            if is_punct(c):
                if cur:
                    words.append("".join(cur))
                    cur = []
                words.append(c)
            else:
                cur.append(c)
        if cur:
            words.append("".join(cur))
    return words

def wordpiece(word, max_chars=100):
    if len(word) > max_chars:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(word):
        end, cur = len(word), None
        while start < end:
            sub = word[start:end]
            if start > 0:
                sub = "##" + sub
            if sub in IDS:
                cur = sub
                break
            end -= 1
        if cur is None:
            return ["[UNK]"]
        pieces.append(cur)
        start = end
    return pieces

def encode(text, max_len=MAX_SEQ):
    pieces = [p for w in basic_tokenize(text) for p in wordpiece(w)]
    keep = pieces[:max_len - 2]
    return [IDS["[CLS]"]] + [IDS[p] for p in keep] + [IDS["[SEP]"]], len(pieces) - len(keep)

# Hand-checked expectations, so the Python port itself is pinned down.
assert basic_tokenize("Hello, World!") == ["hello", ",", "world", "!"]
assert basic_tokenize("Café naïve ÉCOLE") == ["cafe", "naive", "ecole"]
assert basic_tokenize("中文abc") == ["中", "文", "abc"]
assert basic_tokenize("a\x00b\u200bc\td") == ["abc", "d"]
assert wordpiece("unaffable") == ["un", "##aff", "##able"]
assert wordpiece("running") == ["run", "##ning"]

TEXTS = [
    "Hello world!",
    "The café is naïve, résumé über ZÜRICH.",
    "UNAFFABLE running playing tokens",
    "中文 and 日本语字人",
    "hello,world;foo(bar)[baz]{qux}",
    "xyzzy qqq unknown-words ¿what?",
    "a" * 101 + " hello " + "b" * 100,
    "the vector search model is fast and the data base is long and the text of the word is "
    "embedded in a model to run fast searches of long texts",
    "hel\x00lo\twor\u200bld\r\nnew\u3000line \ufffd end",
    "ÉCOLE École ecole Ecole",
    "—「文」…",
    "x",
]
TOKENIZER_CASES = TEXTS + ["   ", "", "\t\n \u3000", "e\u0301a\u0301", "\ufb01 ligature", "k9 z1 x2"]

# ---------------------------------------------------------------- weights
def make_weights(seed=1234):
    g = torch.Generator().manual_seed(seed)
    def r(*shape, s=0.2):
        return (torch.randn(*shape, generator=g, dtype=torch.float32) * s)
    W = {
        "embeddings.word_embeddings.weight": r(V, H, s=0.5),
        "embeddings.position_embeddings.weight": r(MAX_POS, H, s=0.3),
        "embeddings.token_type_embeddings.weight": r(2, H, s=0.3),
        "embeddings.LayerNorm.weight": 1 + r(H, s=0.1),
        "embeddings.LayerNorm.bias": r(H, s=0.1),
    }
    for l in range(LAYERS):
        p = f"encoder.layer.{l}."
        for n in ("query", "key", "value"):
            W[p + f"attention.self.{n}.weight"] = r(H, H)
            W[p + f"attention.self.{n}.bias"] = r(H, s=0.1)
        W[p + "attention.output.dense.weight"] = r(H, H)
        W[p + "attention.output.dense.bias"] = r(H, s=0.1)
        W[p + "attention.output.LayerNorm.weight"] = 1 + r(H, s=0.1)
        W[p + "attention.output.LayerNorm.bias"] = r(H, s=0.1)
        W[p + "intermediate.dense.weight"] = r(INTER, H)
        W[p + "intermediate.dense.bias"] = r(INTER, s=0.1)
        W[p + "output.dense.weight"] = r(H, INTER)
        W[p + "output.dense.bias"] = r(H, s=0.1)
        W[p + "output.LayerNorm.weight"] = 1 + r(H, s=0.1)
        W[p + "output.LayerNorm.bias"] = r(H, s=0.1)
    return W

def to_bf16_bits(a):
    u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)

def rounded(W, dtype):
    """The float32 values a reader of the `dtype` file sees."""
    out = {}
    for k, t in W.items():
        a = t.numpy()
        if dtype == "F16":
            a = a.astype(np.float16).astype(np.float32)
        elif dtype == "BF16":
            a = (to_bf16_bits(a).astype(np.uint32) << 16).view(np.float32)
        out[k] = torch.from_numpy(np.ascontiguousarray(a))
    return out

def write_safetensors(path, W, dtype, prefix=""):
    header, blobs, off = {}, [], 0
    for k in sorted(W):
        a = W[k].numpy()
        if dtype == "F32":
            b = a.astype("<f4").tobytes()
        elif dtype == "F16":
            b = a.astype("<f2").tobytes()
        else:
            b = to_bf16_bits(a).astype("<u2").tobytes()
        header[prefix + k] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)

# ----------------------------------------------- reference forward (float64)
def forward(W, ids, pooling="mean", dense=None, normalize=True):
    W = {k: v.double() for k, v in W.items()}
    L, d = len(ids), H // HEADS
    x = (W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:L]
         + W["embeddings.token_type_embeddings.weight"][0])
    x = F.layer_norm(x, (H,), W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], EPS)
    for l in range(LAYERS):
        p = f"encoder.layer.{l}."
        def lin(t, n):
            return t @ W[p + n + ".weight"].T + W[p + n + ".bias"]
        q = lin(x, "attention.self.query").view(L, HEADS, d).transpose(0, 1)
        k = lin(x, "attention.self.key").view(L, HEADS, d).transpose(0, 1)
        v = lin(x, "attention.self.value").view(L, HEADS, d).transpose(0, 1)
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d), dim=-1) @ v
        att = att.transpose(0, 1).reshape(L, H)
        x = F.layer_norm(x + lin(att, "attention.output.dense"), (H,),
                         W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], EPS)
        h = F.gelu(lin(x, "intermediate.dense"))  # exact erf GELU
        x = F.layer_norm(x + lin(h, "output.dense"), (H,),
                         W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], EPS)
    # sentence_transformers.models.Pooling, one mode at a time (no padding here)
    if pooling == "mean":
        v = x.mean(0)
    elif pooling == "cls":
        v = x[0]
    elif pooling == "max":
        v = x.max(0).values
    elif pooling == "mean_sqrt_len":
        v = x.sum(0) / math.sqrt(L)
    elif pooling == "lasttoken":
        v = x[L - 1]  # the last token the attention mask covers: [SEP]
    else:
        raise ValueError(pooling)
    # sentence_transformers.models.Dense: activation(linear(v)), in module order
    for layer in dense or []:
        v = layer(v)
    return (v / v.norm() if normalize else v).tolist()

# ---------------------------------------------------------------- writing
def st_modules(after_pooling):
    """modules.json: Transformer, Pooling, then these module types in order
    (each in its directory "<idx>_<Type>", as sentence-transformers saves)."""
    types = ["Transformer", "Pooling"] + after_pooling
    return [{"idx": i, "name": str(i), "path": "" if i == 0 else f"{i}_{t}",
             "type": "sentence_transformers.models." + t} for i, t in enumerate(types)]

def write_dir(name, W, dtype, prefix, tokenizer_json):
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "1_Pooling"))
    def dump(rel, obj):
        with open(os.path.join(d, rel), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1, ensure_ascii=False)
            f.write("\n")
    dump("config.json", {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": H,
        "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "intermediate_size": INTER,
        "vocab_size": V, "max_position_embeddings": MAX_POS, "type_vocab_size": 2,
        "layer_norm_eps": EPS, "hidden_act": "gelu", "position_embedding_type": "absolute",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "torch_dtype": "float32"})
    dump("modules.json", st_modules(["Normalize"]))
    dump("1_Pooling/config.json", {
        "word_embedding_dimension": H, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False})
    dump("sentence_bert_config.json", {"max_seq_length": MAX_SEQ, "do_lower_case": False})
    if tokenizer_json:
        dump("tokenizer.json", {
            "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
            "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                           "strip_accents": None, "lowercase": True},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": 100, "vocab": IDS}})
    else:
        with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(VOCAB) + "\n")
        dump("tokenizer_config.json", {"do_lower_case": True, "strip_accents": None,
                                       "model_max_length": 512, "tokenizer_class": "BertTokenizer"})
    write_safetensors(os.path.join(d, "model.safetensors"), W, dtype, prefix)
    R = rounded(W, dtype)
    ref = {"dtype": dtype, "max_seq_length": MAX_SEQ, "tokenizer": [], "embeddings": []}
    for t in TOKENIZER_CASES if dtype != "BF16" else []:
        ids, cut = encode(t)
        ref["tokenizer"].append({"text": t, "ids": ids, "truncated": cut})
    for t in TEXTS:
        ids, cut = encode(t)
        e = {"text": t, "ntokens": len(ids), "truncated": cut,
             "mean": [float("%.7g" % x) for x in forward(R, ids, "mean")]}
        if dtype == "F32":
            e["cls"] = [float("%.7g" % x) for x in forward(R, ids, "cls")]
            e["max"] = [float("%.7g" % x) for x in forward(R, ids, "max")]
            e["lasttoken"] = [float("%.7g" % x) for x in forward(R, ids, "lasttoken")]
        ref["embeddings"].append(e)
    with open(os.path.join(d, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")

DENSE_TYPES = {"tanh": "torch.nn.modules.activation.Tanh", "identity": "torch.nn.modules.linear.Identity"}

def write_dense_dir(name, W):
    """tiny-bert's transformer followed by sentence-transformers modules
    beyond Pooling + Normalize: Pooling(mean_sqrt_len_tokens) -> Dense(32->16,
    Tanh, bias) -> Dense(16->24, Identity, no bias) -> Normalize. The Dense
    layers are real torch.nn.Linear modules (as sentence_transformers.models.
    Dense holds them, saved as linear.weight / linear.bias), run in float64."""
    src, d = os.path.join(HERE, "tiny-bert"), os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for f in ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "sentence_bert_config.json"):
        shutil.copy(os.path.join(src, f), os.path.join(d, f))
    def dump(rel, obj):
        os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
        with open(os.path.join(d, rel), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1, ensure_ascii=False)
            f.write("\n")
    torch.manual_seed(4321)
    specs = [("2_Dense", H, 16, True, "tanh"), ("3_Dense", 16, 24, False, "identity")]
    layers = []
    for path, n_in, n_out, bias, act in specs:
        lin = torch.nn.Linear(n_in, n_out, bias=bias)
        with torch.no_grad():
            lin.weight.mul_(3.0)  # push Tanh out of its linear range so scale matters
        dump(path + "/config.json", {"in_features": n_in, "out_features": n_out, "bias": bias,
                                     "activation_function": DENSE_TYPES[act]})
        T = {"linear.weight": lin.weight.detach().clone()}
        if bias:
            T["linear.bias"] = lin.bias.detach().clone()
        write_safetensors(os.path.join(d, path, "model.safetensors"), T, "F32")
        lin = lin.double()
        f = torch.nn.Tanh() if act == "tanh" else torch.nn.Identity()
        layers.append(lambda v, lin=lin, f=f: f(lin(v)))
    dump("modules.json", st_modules(["Dense", "Dense", "Normalize"]))
    dump("1_Pooling/config.json", {
        "word_embedding_dimension": H, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": True, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False})
    ref = {"dtype": "F32", "max_seq_length": MAX_SEQ, "embeddings": []}
    for t in TEXTS:
        ids, cut = encode(t)
        ref["embeddings"].append({
            "text": t, "ntokens": len(ids), "truncated": cut,
            "dense": [float("%.7g" % x) for x in forward(W, ids, "mean_sqrt_len", layers)],
            "dense_raw": [float("%.7g" % x) for x in forward(W, ids, "mean_sqrt_len", layers, False)],
            "dense_lasttoken": [float("%.7g" % x) for x in forward(W, ids, "lasttoken", layers)]})
    with open(os.path.join(d, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")

def main():
    W = make_weights()
    write_dir("tiny-bert", W, "F32", "", False)
    write_dir("tiny-bert-f16", W, "F16", "", True)
    write_dir("tiny-bert-bf16", W, "BF16", "bert.", False)
    write_dense_dir("tiny-bert-dense", W)
    total = sum(os.path.getsize(os.path.join(r, f)) for n in ("tiny-bert", "tiny-bert-f16", "tiny-bert-bf16",
                                                              "tiny-bert-dense")
                for r, _, fs in os.walk(os.path.join(HERE, n)) for f in fs)
    print(f"fixture written: vocab {V}, {total} bytes", file=sys.stderr)

if __name__ == "__main__":
    main()
