"""Inference state of a PLT: full loop-1 KV, a (W+1)-slot ring per later loop, and the saved loop states.

Layout (L layers, B rows, R loops, S max tokens, W = window_left, Hkv kv-heads of size d):

    k1, v1    [L, B, Hkv, S, d]           loop-1 keys/values of every token: the only full-length KV ("shared KV")
    kloc,vloc [L, B, R-1, Hkv, W+1, d]    loop r >= 2 keys/values; token t lives in slot t % (W+1)
    loc_pos   [B, W+1]                    token position held by each ring slot (-1 = empty); identical for all
                                          layers and loops because every loop writes the same token each step
    hprev     [R-1, B, D]                 n(h(r)_{t-1}) for r = 1..R-1: the CLP input of loop r+1 at the next token
    lengths   [B]                         tokens already in the cache (= position of the next token)

KV bytes = 2 * Hkv * d * bytes * B * (L*S + (R-1)*L*(W+1)) versus R*L*S token-slots for a vanilla looped model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .config import PLTConfig


def _elem(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def plt_kv_bytes(cfg: PLTConfig, seq_len: int, batch: int = 1, dtype: torch.dtype = torch.bfloat16) -> int:
    """plt.md §4: L*S + (R-1)*L*(W+1) token-slots, each holding K and V of every kv-head."""
    slots = cfg.n_layer * seq_len + (cfg.n_loops - 1) * cfg.n_layer * cfg.local_slots
    return 2 * cfg.n_kv_head * cfg.head_dim * _elem(dtype) * batch * slots


def dense_kv_bytes(cfg: PLTConfig, seq_len: int, batch: int = 1, dtype: torch.dtype = torch.bfloat16) -> int:
    """A dense model of the same block: L*S token-slots."""
    return 2 * cfg.n_kv_head * cfg.head_dim * _elem(dtype) * batch * cfg.n_layer * seq_len


def vanilla_loop_kv_bytes(cfg: PLTConfig, seq_len: int, batch: int = 1, dtype: torch.dtype = torch.bfloat16) -> int:
    """A vanilla looped model (every loop keeps full KV, like R*L distinct layers): R*L*S token-slots."""
    return cfg.n_loops * dense_kv_bytes(cfg, seq_len, batch, dtype)


@dataclass
class PLTCache:
    k1: Tensor
    v1: Tensor
    kloc: Tensor
    vloc: Tensor
    loc_pos: Tensor
    hprev: Tensor
    lengths: Tensor

    @classmethod
    def empty(
        cls,
        cfg: PLTConfig,
        batch: int,
        max_len: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> PLTCache:
        S = max_len or cfg.max_seq_len
        L, R, W1, Hkv, d = cfg.n_layer, cfg.n_loops, cfg.local_slots, cfg.n_kv_head, cfg.head_dim
        kw = dict(device=device, dtype=dtype)
        return cls(
            k1=torch.zeros(L, batch, Hkv, S, d, **kw),
            v1=torch.zeros(L, batch, Hkv, S, d, **kw),
            kloc=torch.zeros(L, batch, R - 1, Hkv, W1, d, **kw),
            vloc=torch.zeros(L, batch, R - 1, Hkv, W1, d, **kw),
            loc_pos=torch.full((batch, W1), -1, dtype=torch.long, device=device),
            hprev=torch.zeros(R - 1, batch, cfg.d_model, **kw),  # zeros at request start (shift(h)_0 = 0)
            lengths=torch.zeros(batch, dtype=torch.long, device=device),
        )

    @property
    def max_len(self) -> int:
        return self.k1.size(3)

    def kv_bytes(self) -> int:
        """Bytes actually held as keys/values (the formula's subject; hprev and positions are O(D) per row)."""
        return sum(t.numel() * t.element_size() for t in (self.k1, self.v1, self.kloc, self.vloc))

    def reset_rows(self, rows: Tensor) -> None:
        """Free rows for new requests (slot reuse): positions, lengths and the saved loop states go back to zero."""
        self.lengths[rows] = 0
        self.loc_pos[rows] = -1
        self.hprev[:, rows] = 0


@dataclass
class DenseCache:
    """KV cache of ``dense.DenseLM``: k, v [L, B, Hkv, S, d]."""

    k: Tensor
    v: Tensor
    lengths: Tensor

    @classmethod
    def empty(cls, cfg: PLTConfig, batch: int, max_len: int | None = None, device=None, dtype=torch.float32):
        S = max_len or cfg.max_seq_len
        shape = (cfg.n_layer, batch, cfg.n_kv_head, S, cfg.head_dim)
        return cls(
            k=torch.zeros(shape, device=device, dtype=dtype),
            v=torch.zeros(shape, device=device, dtype=dtype),
            lengths=torch.zeros(batch, dtype=torch.long, device=device),
        )

    def kv_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.k, self.v))
