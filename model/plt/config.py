"""PLT configuration: one frozen-ish dataclass plus named presets.

The switches mirror what the released configs expose (``plt_num_loops``, ``plt_window_size``,
``plt_normalize_per_loop``, ``plt_emb_scale``, ``plt_hidden_scale``, ``plt_gate_use_hidden_states``) so that
LoopCoder-v1 and LoopCoder-v2/PLT are two points of the same config rather than two models.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Literal

from .attention import BACKENDS

GateMode = Literal["hidden", "query"]


@dataclass
class PLTConfig:
    # --- the shared Llama-style block ---
    vocab_size: int = 256
    n_layer: int = 2  # layers in the shared block (run n_loops times)
    n_head: int = 4  # query heads
    n_kv_head: int = 2  # key/value heads (GQA); must divide n_head
    d_model: int = 64
    ffn_hidden: int = 176  # SwiGLU inner width
    max_seq_len: int = 256  # RoPE table size and default cache length
    rope_theta: float = 10000.0
    norm_eps: float = 1e-6
    qkv_bias: bool = False  # False = Llama, True = Qwen2
    tie_embeddings: bool = False

    # --- looping ---
    n_loops: int = 2  # R; 1 = the plain dense model
    # Local window, flash-attn "left" convention: query t sees local keys j with 0 <= t - j <= window_left,
    # i.e. window_left + 1 keys including itself. v2's plt_window_size=[64, 0] is window_left=64; vLLM's fork
    # counts self and stores 65; torchtitan's sliding-window mask_mod wants window_left + 1.
    window_left: int = 64
    # CLP (cross-loop position offset): loop r >= 2 reads the previous loop's state of the *previous* token.
    # True = PLT / LoopCoder-v2 (loops of one decode step run in parallel); False = LoopCoder-v1 (sequential loops).
    clp_shift: bool = True
    # Gate g (weight of the global branch): "hidden" = sigma(W_g RMSNorm(h) + b_g) on the layer's residual input
    # (v2); "query" = sigma(<q_h, w_h> + b_h) on the post-RoPE query (v1).
    gate_mode: GateMode = "hidden"
    emb_scale: float = 1.0  # a in  B(r) = a*E + b*shift(n(h(r-1)))
    hidden_scale: float = 1.0  # b
    normalize_per_loop: bool = True  # n = final RMSNorm (shared weights) if True else identity
    attn_backend: str = "ref"  # ref | flex | triton | auto (triton on CUDA, else ref); see attention.py

    def __post_init__(self) -> None:
        if self.d_model % self.n_head:
            raise ValueError(f"d_model={self.d_model} not divisible by n_head={self.n_head}")
        if self.n_head % self.n_kv_head:
            raise ValueError(f"n_head={self.n_head} not divisible by n_kv_head={self.n_kv_head}")
        if self.head_dim % 2:
            raise ValueError("RoPE needs an even head_dim")
        if self.n_loops < 1 or self.window_left < 0:
            raise ValueError("n_loops >= 1 and window_left >= 0 required")
        if self.gate_mode not in ("hidden", "query"):
            raise ValueError(f"gate_mode must be 'hidden' or 'query', got {self.gate_mode!r}")
        if self.attn_backend not in BACKENDS:
            raise ValueError(f"attn_backend must be one of {sorted(BACKENDS)}, got {self.attn_backend!r}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def local_slots(self) -> int:
        """Ring-buffer slots per later loop: the window plus the current token."""
        return self.window_left + 1

    def replace(self, **kw) -> PLTConfig:
        return replace(self, **kw)

    @classmethod
    def from_preset(cls, name: str, **overrides) -> PLTConfig:
        if name not in PRESETS:
            raise KeyError(f"unknown preset {name!r}; have {sorted(PRESETS)}")
        return replace(PRESETS[name], **overrides)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def num_params(self) -> int:
        """Parameter count computed from the config (matches ``sum(p.numel())`` of the built model)."""
        d, hd = self.d_model, self.head_dim
        attn = d * hd * (self.n_head + 2 * self.n_kv_head) + self.n_head * hd * d
        if self.qkv_bias:
            attn += hd * (self.n_head + 2 * self.n_kv_head)
        gate = self.n_head * (d if self.gate_mode == "hidden" else hd) + self.n_head
        gate += d if self.gate_mode == "hidden" else 0
        per_layer = attn + 3 * d * self.ffn_hidden + 2 * d + gate
        emb = self.vocab_size * d * (1 if self.tie_embeddings else 2)
        return self.n_layer * per_layer + emb + d


def v1(cfg: PLTConfig) -> PLTConfig:
    """LoopCoder-v1 as a config point: loop r+1 reads the raw loop-r output (no E, no norm, no shift), query gate."""
    return cfg.replace(clp_shift=False, emb_scale=0.0, hidden_scale=1.0, normalize_per_loop=False, gate_mode="query")


PRESETS: dict[str, PLTConfig] = {
    # CPU tests: a handful of KFLOPs per token, small window so the ring buffer wraps in short sequences.
    "tiny": PLTConfig(
        vocab_size=97,
        n_layer=2,
        n_head=4,
        n_kv_head=2,
        d_model=32,
        ffn_hidden=64,
        max_seq_len=64,
        n_loops=2,
        window_left=3,
    ),
    # ~125M parameters (GPT-2-small class, 49k code vocab like StarCoder's), shared block of 12 layers.
    "plt125m": PLTConfig(
        vocab_size=49152,
        n_layer=12,
        n_head=12,
        n_kv_head=4,
        d_model=768,
        ffn_hidden=2560,
        max_seq_len=4096,
        rope_theta=100000.0,
        tie_embeddings=True,
        n_loops=2,
        window_left=64,
    ),
    # ~1B parameters (Llama-3.2-1B-like shape), shared block of 16 layers.
    "plt1b": PLTConfig(
        vocab_size=49152,
        n_layer=16,
        n_head=32,
        n_kv_head=8,
        d_model=2048,
        ffn_hidden=6144,
        max_seq_len=4096,
        rope_theta=500000.0,
        tie_embeddings=False,
        n_loops=2,
        window_left=64,
    ),
}
