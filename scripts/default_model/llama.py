"""A Llama decoder in PyTorch, computed the way the serving engine computes GGUF "llama".

RMSNorm, rotary embeddings on adjacent pairs (x[2i], x[2i+1]) as ggml's "normal" RoPE does
for arch llama (so weights need no permutation), grouped-query attention in which query
head h reads key/value head h // (n_head / n_head_kv), and a SwiGLU feed-forward. The output
head shares the token embedding.
"""
import dataclasses
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclasses.dataclass
class Config:
  vocab_size: int = 4096
  dim: int = 192
  n_layer: int = 4
  n_head: int = 4
  n_head_kv: int = 2
  ffn_dim: int = 512
  ctx: int = 256
  rope_base: float = 10000.0
  rms_eps: float = 1e-5

  @property
  def head_dim(self):
    return self.dim // self.n_head


class RMSNorm(nn.Module):
  def __init__(self, dim, eps):
    super().__init__()
    self.eps = eps
    self.weight = nn.Parameter(torch.ones(dim))

  def forward(self, x):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(cfg, n_pos):
  inv_freq = cfg.rope_base ** (
      -torch.arange(0, cfg.head_dim, 2, dtype=torch.float64) / cfg.head_dim)
  ang = torch.arange(n_pos, dtype=torch.float64)[:, None] * inv_freq[None, :]
  return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
  """x: [B, H, T, hd]; rotates each adjacent pair (2i, 2i+1) by pos * inv_freq[i]."""
  a, b = x[..., 0::2], x[..., 1::2]
  ra = a * cos - b * sin
  rb = a * sin + b * cos
  return torch.stack((ra, rb), dim=-1).flatten(-2)


class Block(nn.Module):
  def __init__(self, cfg):
    super().__init__()
    hd = cfg.head_dim
    self.cfg = cfg
    self.attn_norm = RMSNorm(cfg.dim, cfg.rms_eps)
    self.wq = nn.Linear(cfg.dim, cfg.n_head * hd, bias=False)
    self.wk = nn.Linear(cfg.dim, cfg.n_head_kv * hd, bias=False)
    self.wv = nn.Linear(cfg.dim, cfg.n_head_kv * hd, bias=False)
    self.wo = nn.Linear(cfg.n_head * hd, cfg.dim, bias=False)
    self.ffn_norm = RMSNorm(cfg.dim, cfg.rms_eps)
    self.w_gate = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
    self.w_up = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
    self.w_down = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False)

  def forward(self, x, cos, sin, mask):
    c = self.cfg
    B, T, _ = x.shape
    hd = c.head_dim
    h = self.attn_norm(x)
    q = self.wq(h).view(B, T, c.n_head, hd).transpose(1, 2)
    k = self.wk(h).view(B, T, c.n_head_kv, hd).transpose(1, 2)
    v = self.wv(h).view(B, T, c.n_head_kv, hd).transpose(1, 2)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    group = c.n_head // c.n_head_kv
    if group > 1:
      k = k.repeat_interleave(group, dim=1)
      v = v.repeat_interleave(group, dim=1)
    att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
    att = att.masked_fill(mask, float("-inf")).softmax(-1)
    y = (att @ v).transpose(1, 2).reshape(B, T, c.n_head * hd)
    x = x + self.wo(y)
    h = self.ffn_norm(x)
    return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))


class Llama(nn.Module):
  def __init__(self, cfg):
    super().__init__()
    self.cfg = cfg
    self.tok_embd = nn.Embedding(cfg.vocab_size, cfg.dim)
    self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
    self.out_norm = RMSNorm(cfg.dim, cfg.rms_eps)
    self.apply(self._init)
    # Residual projections start small so deep sums stay at unit scale (GPT-2's scheme).
    for b in self.blocks:
      for w in (b.wo.weight, b.w_down.weight):
        nn.init.normal_(w, std=0.02 / math.sqrt(2 * cfg.n_layer))

  @staticmethod
  def _init(m):
    if isinstance(m, (nn.Linear, nn.Embedding)):
      nn.init.normal_(m.weight, std=0.02)

  def forward(self, idx):
    B, T = idx.shape
    cos, sin = rope_tables(self.cfg, T)
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    x = self.tok_embd(idx)
    for b in self.blocks:
      x = b(x, cos, sin, mask)
    return self.out_norm(x) @ self.tok_embd.weight.t()

  def n_params(self):
    return sum(p.numel() for p in self.parameters())
