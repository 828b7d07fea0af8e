"""The Parallel Loop Transformer: one Llama-style block stack (RMSNorm, RoPE, SwiGLU, GQA) run ``n_loops`` times.

Loop 1 is a plain causal pass over the embeddings E and keeps its per-layer K1, V1 (the only full-length KV).
Loop r >= 2 starts from the CLP input ``a*E + b*shift(n(h(r-1)))`` and, in every layer, mixes a global branch over
K1, V1 with a sliding-window branch over its own K, V through a per-head, per-token gate (``attention.py``).
The shift makes loop r at token t depend on loop r-1 at token t-1 only, which is what lets all loops of one
decode step run as one batched pass (``generate.decode_step_clp``). Training runs the loops one after another
over the whole sequence; only the last loop's output is decoded into logits and loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .attention import causal_attn, gated_loop_attn
from .config import PLTConfig

# attend(q, k, v, residual) -> o: how a layer's heads read keys/values; the cache paths swap this, nothing else.
Attend = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, (x.size(-1),), self.weight, self.eps)


def rope_table(head_dim: int, max_len: int, theta: float) -> tuple[Tensor, Tensor]:
    """cos/sin of the rotary angles, [max_len, head_dim // 2], in float64 so any model dtype can take a cast."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    ang = torch.outer(torch.arange(max_len, dtype=torch.float64), inv_freq)
    return ang.cos(), ang.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate-half RoPE (the HF Llama/Qwen layout). x: [B, H, T, d]; cos, sin: [B, 1, T, d/2]."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def segment_ids(doc_ids: Tensor) -> Tensor:
    """One label per contiguous run of equal ``doc_ids`` (so a repeated label never joins two separate runs)."""
    start = torch.ones_like(doc_ids, dtype=torch.bool)
    start[:, 1:] = doc_ids[:, 1:] != doc_ids[:, :-1]
    return start.long().cumsum(1)


def doc_positions(doc_ids: Tensor) -> Tensor:
    """Position inside its document for every token (0 at each document start): RoPE and CLP both reset there."""
    B, T = doc_ids.shape
    t = torch.arange(T, device=doc_ids.device).expand(B, T)
    start = torch.ones_like(doc_ids, dtype=torch.bool)
    start[:, 1:] = doc_ids[:, 1:] != doc_ids[:, :-1]
    first = torch.where(start, t, torch.zeros_like(t)).cummax(1).values
    return t - first


class MLP(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x)."""

    def __init__(self, cfg: PLTConfig):
        super().__init__()
        self.w1 = nn.Linear(cfg.d_model, cfg.ffn_hidden, bias=False)
        self.w3 = nn.Linear(cfg.d_model, cfg.ffn_hidden, bias=False)
        self.w2 = nn.Linear(cfg.ffn_hidden, cfg.d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class LoopGate(nn.Module):
    """g in (0, 1), one scalar per head and token, weighting the global branch.

    Zero-initialised so every later loop starts from an even local/global blend (g = 0.5), as LoopCoder-v2 does.
    ``hidden`` (v2): g = sigma(W_g RMSNorm_g(h) + b_g) on the layer's pre-attention residual h.
    ``query`` (v1):  g_h = sigma(<q_h, w_h> + b_h) on the post-RoPE query of head h.
    """

    def __init__(self, cfg: PLTConfig):
        super().__init__()
        self.mode = cfg.gate_mode
        in_dim = cfg.d_model if self.mode == "hidden" else cfg.head_dim
        self.weight = nn.Parameter(torch.zeros(cfg.n_head, in_dim))
        self.bias = nn.Parameter(torch.zeros(cfg.n_head))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps) if self.mode == "hidden" else None

    def forward(self, res: Tensor, q: Tensor) -> Tensor:
        """res: [B, T, D], q: [B, H, T, d] -> g: [B, H, T, 1]."""
        if self.norm is not None:
            logit = F.linear(self.norm(res), self.weight, self.bias).transpose(1, 2)
        else:
            logit = torch.einsum("bhtd,hd->bht", q, self.weight) + self.bias[:, None]
        return torch.sigmoid(logit).unsqueeze(-1)


class Attention(nn.Module):
    """Projections of a GQA attention layer plus the loop gate; *how* heads attend is decided by the caller."""

    def __init__(self, cfg: PLTConfig):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = cfg.n_head, cfg.n_kv_head, cfg.head_dim
        self.wq = nn.Linear(cfg.d_model, cfg.n_head * cfg.head_dim, bias=cfg.qkv_bias)
        self.wk = nn.Linear(cfg.d_model, cfg.n_kv_head * cfg.head_dim, bias=cfg.qkv_bias)
        self.wv = nn.Linear(cfg.d_model, cfg.n_kv_head * cfg.head_dim, bias=cfg.qkv_bias)
        self.wo = nn.Linear(cfg.n_head * cfg.head_dim, cfg.d_model, bias=False)
        self.gate = LoopGate(cfg)

    def qkv(self, x: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        k = self.wk(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v


class Block(nn.Module):
    """Pre-norm Llama block, shared by all loops; ``attend`` supplies loop- and cache-specific attention."""

    def __init__(self, cfg: PLTConfig):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, attend: Attend) -> Tensor:
        q, k, v = self.attn.qkv(self.attn_norm(x), cos, sin)
        o = attend(q, k, v, x)  # [B, H, T, d]
        x = x + self.attn.wo(o.transpose(1, 2).flatten(2))
        return x + self.mlp(self.mlp_norm(x))


class PLT(nn.Module):
    def __init__(self, cfg: PLTConfig):
        super().__init__()
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.tok_emb.weight
        cos, sin = rope_table(cfg.head_dim, cfg.max_seq_len, cfg.rope_theta)
        self.register_buffer("rope_cos", cos.float(), persistent=False)
        self.register_buffer("rope_sin", sin.float(), persistent=False)
        self.apply(self._init_weights)
        # residual projections feed a stream that is written n_layer * n_loops times (GPT-2 scaled init)
        depth = 2 * cfg.n_layer * cfg.n_loops
        for name, p in self.named_parameters():
            if name.endswith(("attn.wo.weight", "mlp.w2.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(depth))

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- pieces shared by the training forward and the cache paths (generate.py) ---

    def rope(self, pos: Tensor) -> tuple[Tensor, Tensor]:
        """cos/sin for integer positions [B, T] -> [B, 1, T, d/2] in the model dtype."""
        dtype = self.tok_emb.weight.dtype
        return self.rope_cos[pos].unsqueeze(1).to(dtype), self.rope_sin[pos].unsqueeze(1).to(dtype)

    def loop_norm(self, h: Tensor) -> Tensor:
        """n(h): what a loop hands to the next one (final RMSNorm, shared weights, or identity)."""
        return self.norm(h) if self.config.normalize_per_loop else h

    def loop_input(self, E: Tensor, hp: Tensor) -> Tensor:
        """B(r) = a*E + b*hp, where hp is the already shifted (v2) or unshifted (v1) n(h(r-1))."""
        return self.config.emb_scale * E + self.config.hidden_scale * hp

    def shift(self, hp: Tensor, doc_start: Tensor | None) -> Tensor:
        """shift(h)_t = h_{t-1}; zero at t = 0 and at every document start (no state leaks across documents)."""
        hp = F.pad(hp[:, :-1], (0, 0, 1, 0))
        if doc_start is not None:
            hp = hp.masked_fill(doc_start.unsqueeze(-1), 0.0)
        return hp

    # --- training / scoring forward over full (packed) sequences ---

    def forward(
        self, idx: Tensor, targets: Tensor | None = None, doc_ids: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Logits of the last loop for every position, and the mean cross-entropy if ``targets`` is given.

        idx: [B, T] token ids. targets: [B, T] next-token ids aligned with idx, -1 = ignore (the packer marks
        targets that cross a document boundary with -1). doc_ids: [B, T] document labels of a packed row;
        attention, RoPE positions and the CLP shift all restart at each document.
        """
        cfg = self.config
        B, T = idx.shape
        if doc_ids is None:
            pos = torch.arange(T, device=idx.device).expand(B, T)
            seg, doc_start = None, None
        else:
            pos, seg = doc_positions(doc_ids), segment_ids(doc_ids)
            doc_start = pos == 0
        cos, sin = self.rope(pos)
        E = self.tok_emb(idx)
        h = E
        kv1: list[tuple[Tensor, Tensor]] = []
        for r in range(cfg.n_loops):
            if r > 0:
                hp = self.loop_norm(h)
                if cfg.clp_shift:
                    hp = self.shift(hp, doc_start)
                h = self.loop_input(E, hp)
            for i, blk in enumerate(self.layers):
                h = blk(h, cos, sin, partial(self._attend, r, i, kv1, seg))
        logits = self.lm_head(self.norm(h))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-1)
        return logits, loss

    def _attend(
        self, r: int, i: int, kv1: list, seg: Tensor | None, q: Tensor, k: Tensor, v: Tensor, res: Tensor
    ) -> Tensor:
        if r == 0:
            kv1.append((k, v))  # loop 1 of layer i: the shared KV every later loop reads
            return causal_attn(q, k, v, seg)
        gate = self.layers[i].attn.gate(res, q)
        k1, v1 = kv1[i]
        return gated_loop_attn(q, k1, v1, k, v, gate, self.config.window_left, seg, self.config.attn_backend)
