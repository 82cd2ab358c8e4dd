#!/usr/bin/python3
"""The benchmark model: a MiniLM-L6-shaped BERT with random weights.

Why: bench/embed compares our forward pass with PyTorch and ONNX Runtime on
the same weights and shapes. No weights are downloaded: this script creates
them (seeded), writes the Hugging Face layout our loader reads, and exports the
same network to ONNX with torch.onnx. The torch module mirrors Hugging Face's
BertModel structure (so ONNX Runtime's BERT graph fusions can apply).

  /usr/bin/python3 bench/embed/model.py OUTDIR     -> OUTDIR/minilm-bench/{config.json,
      model.safetensors, vocab.txt, modules.json, 1_Pooling/config.json,
      sentence_bert_config.json}, OUTDIR/minilm-bench.onnx
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

CFG = dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536,
           vocab_size=30522, max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12,
           hidden_act="gelu", model_type="bert", architectures=["BertModel"],
           position_embedding_type="absolute")


class Layer(nn.Module):
    def __init__(self, H, nh, I, eps):
        super().__init__()
        self.nh, self.d = nh, H // nh
        self.query, self.key, self.value = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        self.attn_out, self.ln1 = nn.Linear(H, H), nn.LayerNorm(H, eps=eps)
        self.inter, self.out, self.ln2 = nn.Linear(H, I), nn.Linear(I, H), nn.LayerNorm(H, eps=eps)

    def heads(self, x):
        B, L, _ = x.shape
        return x.view(B, L, self.nh, self.d).permute(0, 2, 1, 3)

    def forward(self, x, bias):
        B, L, H = x.shape
        q, k, v = self.heads(self.query(x)), self.heads(self.key(x)), self.heads(self.value(x))
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.d) + bias
        c = torch.matmul(torch.softmax(s, dim=-1), v).permute(0, 2, 1, 3).reshape(B, L, H)
        x = self.ln1(self.attn_out(c) + x)
        return self.ln2(self.out(F.gelu(self.inter(x))) + x)


class Bert(nn.Module):
    def __init__(self, c=CFG):
        super().__init__()
        H = c["hidden_size"]
        self.word = nn.Embedding(c["vocab_size"], H)
        self.pos = nn.Embedding(c["max_position_embeddings"], H)
        self.tok_type = nn.Embedding(c["type_vocab_size"], H)
        self.ln = nn.LayerNorm(H, eps=c["layer_norm_eps"])
        self.layers = nn.ModuleList(Layer(H, c["num_attention_heads"], c["intermediate_size"],
                                          c["layer_norm_eps"]) for _ in range(c["num_hidden_layers"]))

    def forward(self, ids, mask):
        L = ids.shape[1]
        pos = torch.arange(L, device=ids.device).unsqueeze(0)
        x = self.ln(self.word(ids) + self.pos(pos) + self.tok_type(torch.zeros_like(ids)))
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        m = mask.unsqueeze(-1).to(x.dtype)
        v = (x * m).sum(1) / m.sum(1)
        return F.normalize(v, dim=-1)

    def hf_state(self):
        """Tensors under Hugging Face BertModel names."""
        s = {"embeddings.word_embeddings.weight": self.word.weight,
             "embeddings.position_embeddings.weight": self.pos.weight,
             "embeddings.token_type_embeddings.weight": self.tok_type.weight,
             "embeddings.LayerNorm.weight": self.ln.weight, "embeddings.LayerNorm.bias": self.ln.bias}
        for i, l in enumerate(self.layers):
            p = f"encoder.layer.{i}."
            for name, mod in (("attention.self.query", l.query), ("attention.self.key", l.key),
                              ("attention.self.value", l.value), ("attention.output.dense", l.attn_out),
                              ("intermediate.dense", l.inter), ("output.dense", l.out),
                              ("attention.output.LayerNorm", l.ln1), ("output.LayerNorm", l.ln2)):
                s[p + name + ".weight"], s[p + name + ".bias"] = mod.weight, mod.bias
        return {k: v.detach().float().contiguous() for k, v in s.items()}


def build(seed=42):
    torch.manual_seed(seed)
    m = Bert()
    with torch.no_grad():  # BERT-like init scale keeps activations sane
        for p in m.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.02)
    return m.eval()


def write(outdir):
    m = build()
    d = os.path.join(outdir, "minilm-bench")
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    st = m.hf_state()
    header, off = {}, 0
    for k in sorted(st):
        n = st[k].numel() * 4
        header[k] = {"dtype": "F32", "shape": list(st[k].shape), "data_offsets": [off, off + n]}
        off += n
    hj = json.dumps(header).encode()
    hj += b" " * (-len(hj) % 8)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj)
        for k in sorted(st):
            f.write(st[k].numpy().astype("<f4").tobytes())
    json.dump(CFG, open(os.path.join(d, "config.json"), "w"))
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = special + [f"w{i}" for i in range(CFG["vocab_size"] - len(special))]
    open(os.path.join(d, "vocab.txt"), "w").write("\n".join(vocab) + "\n")
    json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
              open(os.path.join(d, "modules.json"), "w"))
    json.dump({"pooling_mode_mean_tokens": True}, open(os.path.join(d, "1_Pooling", "config.json"), "w"))
    json.dump({"max_seq_length": 256}, open(os.path.join(d, "sentence_bert_config.json"), "w"))
    ids = torch.randint(5, CFG["vocab_size"], (2, 16))
    mask = torch.ones_like(ids)
    torch.onnx.export(m, (ids, mask), os.path.join(outdir, "minilm-bench.onnx"),
                      input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                      dynamic_axes={"input_ids": {0: "b", 1: "l"}, "attention_mask": {0: "b", 1: "l"},
                                    "embedding": {0: "b"}}, opset_version=14, do_constant_folding=True)


if __name__ == "__main__":
    write(sys.argv[1])
