"""A plain dense Llama-style LM with the same parameter names as PLT minus the gates.

It is the oracle for "R = 1 equals dense", the source format for dense-to-loop folding (``convert.py``) and the
latency/cache baseline of ``bench/model.py``. Its forward is written independently of ``PLT.forward`` on purpose.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .config import PLTConfig
from .model import MLP, RMSNorm, apply_rope, rope_table


class DenseAttention(nn.Module):
    def __init__(self, cfg: PLTConfig):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = cfg.n_head, cfg.n_kv_head, cfg.head_dim
        self.wq = nn.Linear(cfg.d_model, cfg.n_head * cfg.head_dim, bias=cfg.qkv_bias)
        self.wk = nn.Linear(cfg.d_model, cfg.n_kv_head * cfg.head_dim, bias=cfg.qkv_bias)
        self.wv = nn.Linear(cfg.d_model, cfg.n_kv_head * cfg.head_dim, bias=cfg.qkv_bias)
        self.wo = nn.Linear(cfg.n_head * cfg.head_dim, cfg.d_model, bias=False)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, kv: tuple[Tensor, Tensor, Tensor] | None = None) -> Tensor:
        """Causal self-attention; with ``kv = (K, V, lengths)`` the new token (T = 1) is appended to a KV cache."""
        B, T, _ = x.shape
        q = apply_rope(self.wq(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2), cos, sin)
        k = apply_rope(self.wk(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2), cos, sin)
        v = self.wv(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        gqa = self.n_head != self.n_kv_head
        if kv is None:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
        else:
            K, V, t = kv
            b = torch.arange(B, device=x.device)
            K[b, :, t] = k[:, :, 0]
            V[b, :, t] = v[:, :, 0]
            s = int(t.max()) + 1
            mask = None if B == 1 else (torch.arange(s, device=x.device)[None, :] <= t[:, None])[:, None, None]
            o = F.scaled_dot_product_attention(q, K[:, :, :s], V[:, :, :s], attn_mask=mask, enable_gqa=gqa)
        return self.wo(o.transpose(1, 2).flatten(2))


class DenseBlock(nn.Module):
    def __init__(self, cfg: PLTConfig):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = DenseAttention(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, kv=None) -> Tensor:
        x = x + self.attn(self.attn_norm(x), cos, sin, kv)
        return x + self.mlp(self.mlp_norm(x))


class DenseLM(nn.Module):
    """Llama-style decoder; ``config.n_loops`` and the loop fields are ignored."""

    def __init__(self, cfg: PLTConfig):
        super().__init__()
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList([DenseBlock(cfg) for _ in range(cfg.n_layer)])
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.tok_emb.weight
        cos, sin = rope_table(cfg.head_dim, cfg.max_seq_len, cfg.rope_theta)
        self.register_buffer("rope_cos", cos.float(), persistent=False)
        self.register_buffer("rope_sin", sin.float(), persistent=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def _rope(self, pos: Tensor) -> tuple[Tensor, Tensor]:
        dtype = self.tok_emb.weight.dtype
        return self.rope_cos[pos].unsqueeze(1).to(dtype), self.rope_sin[pos].unsqueeze(1).to(dtype)

    def forward(self, idx: Tensor) -> Tensor:
        """Logits [B, T, V] of a causal pass over unpacked rows."""
        B, T = idx.shape
        cos, sin = self._rope(torch.arange(T, device=idx.device).expand(B, T))
        x = self.tok_emb(idx)
        for blk in self.layers:
            x = blk(x, cos, sin)
        return self.lm_head(self.norm(x))

    @torch.no_grad()
    def decode_step(self, idx: Tensor, cache) -> Tensor:
        """One token per row ([B]) against a ``cache.DenseCache``; returns logits [B, V]."""
        t = cache.lengths
        cos, sin = self._rope(t[:, None])
        x = self.tok_emb(idx)[:, None]
        for i, blk in enumerate(self.layers):
            x = blk(x, cos, sin, (cache.k[i], cache.v[i], t))
        cache.lengths = t + 1
        return self.lm_head(self.norm(x[:, 0]))
