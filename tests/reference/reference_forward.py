#!/usr/bin/python3
"""Reference forward pass of Llama and Qwen2 models (GGUF files or Hugging Face folders)
in numpy float64.

Written top to bottom in the style of llama2.c, one position at a time with a KV cache, so
it is easy to check by reading. Every hyper-parameter comes from the file's metadata; the
weights are dequantized once by gguf_reader.py.

RoPE follows llama.cpp: arch "llama" rotates adjacent pairs (x[2i], x[2i+1]) ("normal"
mode), "qwen2" rotates x[i] with x[i + n_rot/2] (NEOX mode); theta_i = pos * base^(-2i/n_rot),
divided by rope_freqs[i] when the model has a rope_freqs.weight tensor (llama3 scaling).
Hugging Face folders (read by hf_reader.py) keep q/k rows in their original order, so every
folder uses NEOX mode; config.json's rope_scaling {"rope_type": "llama3"} gives the factors.

    /usr/bin/python3 reference_forward.py MODEL.gguf 1,2,3     # prints top-5 per position
    /usr/bin/python3 reference_forward.py FOLDER 1,2,3
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_reader  # noqa: E402
import hf_reader  # noqa: E402

ROPE_NEOX_ARCHS = {"qwen2"}
SUPPORTED_ARCHS = {"llama", "qwen2"}


def llama3_rope_factors(rs, base, n_rot):
    """Divisors of theta_i for Llama 3.1's rope_scaling, from its published formula."""
    factor = float(rs.get("factor", 8.0))
    low, high = float(rs.get("low_freq_factor", 1.0)), float(rs.get("high_freq_factor", 4.0))
    old_ctx = float(rs.get("original_max_position_embeddings", 8192))
    freqs = base ** (-2.0 * np.arange(n_rot // 2, dtype=np.float64) / n_rot)
    wavelen = 2 * np.pi / freqs
    smooth = (old_ctx / wavelen - low) / (high - low)
    mid = 1.0 / ((1 - smooth) / factor + smooth)
    return np.where(wavelen < old_ctx / high, 1.0, np.where(wavelen > old_ctx / low, factor, mid))


class Model:
    def __init__(self, path):
        if os.path.isdir(path):
            self._init_folder(path)
            return
        f = gguf_reader.GgufFile(path)
        arch = f.get("general.architecture")
        if arch not in SUPPORTED_ARCHS:
            raise ValueError(f"{path}: architecture {arch!r} is not supported by the reference")
        self.arch = arch

        def hp(key, default=None):
            v = f.get(f"{arch}.{key}", default)
            if v is None:
                raise ValueError(f"{path}: missing metadata {arch}.{key}")
            return v

        self.dim = int(hp("embedding_length"))
        self.n_layers = int(hp("block_count"))
        self.n_heads = int(hp("attention.head_count"))
        self.n_kv_heads = int(hp("attention.head_count_kv", self.n_heads))
        self.head_dim = int(hp("attention.key_length", self.dim // self.n_heads))
        self.eps = float(hp("attention.layer_norm_rms_epsilon"))
        self.rope_base = float(hp("rope.freq_base", 10000.0))
        self.n_rot = int(hp("rope.dimension_count", self.head_dim))
        self.neox = arch in ROPE_NEOX_ARCHS

        def w(name, required=True):
            if name not in f.tensors:
                if required:
                    raise ValueError(f"{path}: missing tensor {name}")
                return None
            return f.dequantize(name).astype(np.float64)

        self.token_embd = w("token_embd.weight")  # [vocab, dim]
        self.n_vocab = self.token_embd.shape[0]
        self.output_norm = w("output_norm.weight")
        out = w("output.weight", required=False)
        self.output = self.token_embd if out is None else out  # tied head
        self.rope_freqs = w("rope_freqs.weight", required=False)
        self.layers = []
        for i in range(self.n_layers):
            b = f"blk.{i}."
            self.layers.append({
                "attn_norm": w(b + "attn_norm.weight"),
                "wq": w(b + "attn_q.weight"),  # [n_heads*head_dim, dim]
                "wk": w(b + "attn_k.weight"),  # [n_kv_heads*head_dim, dim]
                "wv": w(b + "attn_v.weight"),
                "bq": w(b + "attn_q.bias", required=False),
                "bk": w(b + "attn_k.bias", required=False),
                "bv": w(b + "attn_v.bias", required=False),
                "wo": w(b + "attn_output.weight"),  # [dim, n_heads*head_dim]
                "ffn_norm": w(b + "ffn_norm.weight"),
                "w_gate": w(b + "ffn_gate.weight"),  # [ffn, dim]
                "w_up": w(b + "ffn_up.weight"),
                "w_down": w(b + "ffn_down.weight"),  # [dim, ffn]
            })

    def _init_folder(self, path):
        f = hf_reader.HfFolder(path)
        c = f.config
        arch = c.get("model_type")
        if arch not in SUPPORTED_ARCHS:
            raise ValueError(f"{path}: model_type {arch!r} is not supported by the reference")
        self.arch = arch
        self.dim = int(c["hidden_size"])
        self.n_layers = int(c["num_hidden_layers"])
        self.n_heads = int(c["num_attention_heads"])
        self.n_kv_heads = int(c.get("num_key_value_heads", self.n_heads))
        self.head_dim = int(c.get("head_dim", self.dim // self.n_heads))
        self.eps = float(c["rms_norm_eps"])
        self.rope_base = float(c.get("rope_theta", 10000.0))
        self.n_rot = self.head_dim
        self.neox = True

        def w(name, required=True):
            if name not in f:
                if required:
                    raise ValueError(f"{path}: missing tensor {name}")
                return None
            return f.weight(name)

        self.token_embd = w("model.embed_tokens.weight")
        self.n_vocab = self.token_embd.shape[0]
        self.output_norm = w("model.norm.weight")
        out = None if c.get("tie_word_embeddings") else w("lm_head.weight")
        self.output = self.token_embd if out is None else out
        rs = c.get("rope_scaling") or {}
        self.rope_freqs = None
        if rs.get("rope_type", rs.get("type")) == "llama3":
            self.rope_freqs = llama3_rope_factors(rs, self.rope_base, self.n_rot)
        self.layers = []
        for i in range(self.n_layers):
            b = f"model.layers.{i}."
            self.layers.append({
                "attn_norm": w(b + "input_layernorm.weight"),
                "wq": w(b + "self_attn.q_proj.weight"),
                "wk": w(b + "self_attn.k_proj.weight"),
                "wv": w(b + "self_attn.v_proj.weight"),
                "bq": w(b + "self_attn.q_proj.bias", required=False),
                "bk": w(b + "self_attn.k_proj.bias", required=False),
                "bv": w(b + "self_attn.v_proj.bias", required=False),
                "wo": w(b + "self_attn.o_proj.weight"),
                "ffn_norm": w(b + "post_attention_layernorm.weight"),
                "w_gate": w(b + "mlp.gate_proj.weight"),
                "w_up": w(b + "mlp.up_proj.weight"),
                "w_down": w(b + "mlp.down_proj.weight"),
            })


def rmsnorm(x, weight, eps):
    return x / np.sqrt(np.mean(x * x) + eps) * weight


def rope(x, pos, m):
    """Rotates the first n_rot dims of each head in x [heads, head_dim] for position pos."""
    n_rot = m.n_rot
    i = np.arange(n_rot // 2, dtype=np.float64)
    theta = pos * m.rope_base ** (-2.0 * i / n_rot)
    if m.rope_freqs is not None:
        theta = theta / m.rope_freqs
    cos, sin = np.cos(theta), np.sin(theta)
    out = x.copy()
    if m.neox:
        a, b = x[:, 0:n_rot // 2], x[:, n_rot // 2:n_rot]
        out[:, 0:n_rot // 2] = a * cos - b * sin
        out[:, n_rot // 2:n_rot] = a * sin + b * cos
    else:
        a, b = x[:, 0:n_rot:2], x[:, 1:n_rot:2]
        out[:, 0:n_rot:2] = a * cos - b * sin
        out[:, 1:n_rot:2] = a * sin + b * cos
    return out


def silu(x):
    return x / (1.0 + np.exp(-x))


def forward(m, tokens):
    """Logits [len(tokens), n_vocab] for each position of the token sequence."""
    hd, nh, nkv = m.head_dim, m.n_heads, m.n_kv_heads
    group = nh // nkv  # query heads per key/value head
    k_cache = [[] for _ in range(m.n_layers)]  # per layer: list of [n_kv_heads, head_dim]
    v_cache = [[] for _ in range(m.n_layers)]
    logits = np.zeros((len(tokens), m.n_vocab))
    for pos, tok in enumerate(tokens):
        if not 0 <= tok < m.n_vocab:
            raise ValueError(f"token {tok} outside the vocabulary of {m.n_vocab}")
        x = m.token_embd[tok].copy()
        for li, L in enumerate(m.layers):
            # Attention block.
            xb = rmsnorm(x, L["attn_norm"], m.eps)
            q = L["wq"] @ xb
            k = L["wk"] @ xb
            v = L["wv"] @ xb
            if L["bq"] is not None:
                q, k, v = q + L["bq"], k + L["bk"], v + L["bv"]
            q = rope(q.reshape(nh, hd), pos, m)
            k = rope(k.reshape(nkv, hd), pos, m)
            k_cache[li].append(k)
            v_cache[li].append(v.reshape(nkv, hd))
            keys = np.stack(k_cache[li])  # [pos+1, n_kv_heads, head_dim]; causal by construction
            values = np.stack(v_cache[li])
            att_out = np.zeros((nh, hd))
            for h in range(nh):
                kv = h // group
                scores = keys[:, kv, :] @ q[h] / np.sqrt(hd)
                scores = np.exp(scores - scores.max())
                scores /= scores.sum()
                att_out[h] = scores @ values[:, kv, :]
            x = x + L["wo"] @ att_out.reshape(-1)
            # Feed-forward block (SwiGLU).
            xb = rmsnorm(x, L["ffn_norm"], m.eps)
            hb = silu(L["w_gate"] @ xb) * (L["w_up"] @ xb)
            x = x + L["w_down"] @ hb
        x = rmsnorm(x, m.output_norm, m.eps)
        logits[pos] = m.output @ x
    return logits


def parse_tokens(s):
    try:
        toks = [int(t) for t in s.split(",") if t.strip() != ""]
    except ValueError:
        raise ValueError(f"tokens must be comma-separated integers, got {s!r}")
    if not toks:
        raise ValueError("no tokens given")
    return toks


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    m = Model(argv[1])
    logits = forward(m, parse_tokens(argv[2]))
    for pos, row in enumerate(logits):
        top = np.argsort(-row)[:5]
        print(f"pos {pos}: " + ", ".join(f"{t}:{row[t]:.4f}" for t in top))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
