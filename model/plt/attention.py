"""Gated loop attention (PLT eq. 2-5) behind one signature, with the `ref` backend as the test oracle.

Loop 1 is ordinary causal attention. Every later loop r >= 2 mixes two branches per head and token:

    O = g * Attn(Q, K1, V1) + (1 - g) * Attn(Q, K_r, V_r)

where K1, V1 are loop 1's keys/values of the same layer (full causal, the shared KV) and K_r, V_r are the current
loop's own keys/values seen through a causal sliding window (0 <= t - j <= window_left). Both branches respect
document boundaries of a packed sequence.

Backends (``PLTConfig.attn_backend``), all with one signature and checked against ``ref`` forward and backward
(``tests/model/test_kernels.py``):
  * ``ref``: two SDPA calls with explicit boolean masks; the oracle and the default; runs anywhere.
  * ``flex``: two FlexAttention calls with block-sparse masks (``model/kernels/flex_attn.py``); CUDA for training,
    forward-only on CPU (torch 2.13 has no FlexAttention backward there).
  * ``triton``: one fused Triton kernel for both branches and the gate (``model/kernels/gated_attn.py``); CUDA,
    or CPU under ``TRITON_INTERPRET=1`` (tests only: the interpreter is slow).
  * ``auto``: ``triton`` on a CUDA tensor, ``ref`` otherwise.
The kernel modules are imported on first use, so ``ref`` never imports Triton.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def masked_attn(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax attention with an explicit boolean mask (True = may attend).

    q: [B, Hq, Tq, d]; k, v: [B, Hkv, S, d] with Hkv dividing Hq (GQA); mask broadcastable to [B, Hq, Tq, S].
    """
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=q.size(1) != k.size(1))


def sequence_masks(
    T: int, window_left: int, doc_ids: Tensor | None = None, device: torch.device | None = None
) -> tuple[Tensor, Tensor]:
    """Boolean masks ([B or 1, 1, T, T]) for a full sequence: (causal & same-doc, causal & same-doc & window).

    ``doc_ids`` [B, T] labels each token's document; tokens attend only within equal labels, so callers pass
    one label per contiguous document (see ``model.segment_ids``).
    """
    i = torch.arange(T, device=device)
    dist = i[:, None] - i[None, :]
    glob = (dist >= 0)[None, None]
    if doc_ids is not None:
        glob = glob & (doc_ids[:, None, :, None] == doc_ids[:, None, None, :])
    loc = glob & (dist <= window_left)[None, None]
    return glob, loc


def causal_attn(q: Tensor, k: Tensor, v: Tensor, doc_ids: Tensor | None = None) -> Tensor:
    """Loop-1 attention: causal, and within documents when ``doc_ids`` is given."""
    if doc_ids is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=q.size(1) != k.size(1))
    glob, _ = sequence_masks(q.size(2), 0, doc_ids, q.device)
    return masked_attn(q, k, v, glob)


def gated_attn_masked(
    q: Tensor, k1: Tensor, v1: Tensor, mask1: Tensor | None, k2: Tensor, v2: Tensor, mask2: Tensor | None, gate: Tensor
) -> Tensor:
    """Eq. 2-5 with caller-built masks: used by the cache paths, whose keys are not the query sequence itself."""
    o_glob = masked_attn(q, k1, v1, mask1)
    o_loc = masked_attn(q, k2, v2, mask2)
    return gate * o_glob + (1.0 - gate) * o_loc


def _ref(
    q: Tensor, k1: Tensor, v1: Tensor, k2: Tensor, v2: Tensor, gate: Tensor, window_left: int, doc_ids: Tensor | None
) -> Tensor:
    """Two SDPA calls with explicit masks in the input dtype (use float32/float64 for oracle comparisons)."""
    glob, loc = sequence_masks(q.size(2), window_left, doc_ids, q.device)
    return gated_attn_masked(q, k1, v1, glob, k2, v2, loc, gate)


def _same_dtype(*xs: Tensor) -> tuple[Tensor, ...]:
    """q, k, v in one dtype for a kernel backend, the way autocast treats SDPA.

    Under autocast the projections come out in the autocast dtype but RoPE (float32 tables) promotes q and k back
    to float32; SDPA is on autocast's lower-precision list and casts them, so the kernels do the same. Without
    autocast, mixed dtypes are a caller bug and stay an error (as in SDPA).
    """
    dev = xs[0].device.type
    if torch.is_autocast_enabled(dev):
        dt = torch.get_autocast_dtype(dev)
        return tuple(x.to(dt) for x in xs)
    if len({x.dtype for x in xs}) > 1:
        raise ValueError(f"q, k1, v1, k2, v2 must share a dtype, got {[x.dtype for x in xs]}")
    return xs


def _flex(
    q: Tensor, k1: Tensor, v1: Tensor, k2: Tensor, v2: Tensor, gate: Tensor, window_left: int, doc_ids: Tensor | None
) -> Tensor:
    from ..kernels.flex_attn import gated_attn_flex

    return gated_attn_flex(*_same_dtype(q, k1, v1, k2, v2), gate, window_left, doc_ids)


def _triton(
    q: Tensor, k1: Tensor, v1: Tensor, k2: Tensor, v2: Tensor, gate: Tensor, window_left: int, doc_ids: Tensor | None
) -> Tensor:
    from ..kernels.gated_attn import gated_attn_triton

    return gated_attn_triton(*_same_dtype(q, k1, v1, k2, v2), gate, window_left, doc_ids)


def _auto(
    q: Tensor, k1: Tensor, v1: Tensor, k2: Tensor, v2: Tensor, gate: Tensor, window_left: int, doc_ids: Tensor | None
) -> Tensor:
    fn = _triton if q.is_cuda else _ref
    return fn(q, k1, v1, k2, v2, gate, window_left, doc_ids)


Backend = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, int, Tensor | None], Tensor]
BACKENDS: dict[str, Backend] = {"ref": _ref, "flex": _flex, "triton": _triton, "auto": _auto}


def gated_loop_attn(
    q: Tensor,
    k1: Tensor,
    v1: Tensor,
    k2: Tensor,
    v2: Tensor,
    gate: Tensor,
    window_left: int,
    doc_ids: Tensor | None = None,
    backend: str = "ref",
) -> Tensor:
    """Gated attention of a loop r >= 2 over a full (packed) sequence.

    Args:
        q: [B, Hq, T, d] this loop's queries (post-RoPE).
        k1, v1: [B, Hkv, T, d] loop 1's keys/values of the same layer (global branch).
        k2, v2: [B, Hkv, T, d] this loop's keys/values (local sliding-window branch).
        gate: [B, Hq, T, 1] weight of the global branch, in (0, 1).
        window_left: local keys j satisfy 0 <= t - j <= window_left (window_left + 1 keys including t).
        doc_ids: optional [B, T] document labels; attention never crosses a label change.
    Returns:
        [B, Hq, T, d]
    """
    try:
        fn = BACKENDS[backend]
    except KeyError:
        raise ValueError(f"unknown attention backend {backend!r}; have {sorted(BACKENDS)}") from None
    return fn(q, k1, v1, k2, v2, gate, window_left, doc_ids)
