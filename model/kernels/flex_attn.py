"""The ``flex`` backend: gated loop attention as two FlexAttention calls with block-sparse masks.

Global branch: causal and same document. Local branch: that and ``0 <= t - j <= window_left``. FlexAttention
skips key blocks the BlockMask marks empty, so the local branch costs about a band, not a full causal pass; the
gate mix is one elementwise op afterwards (so O_glob and O_loc do round-trip through memory, unlike the fused
``triton`` backend).

Where it runs (torch 2.13):
  * CUDA: through ``torch.compile(flex_attention)``, a generated fused kernel, forward and backward.
  * CPU: forward only, eager (torch's unfused reference path that materialises the scores; compiling it on CPU
    works but takes ~20 s per shape). torch refuses FlexAttention backward on CPU ("FlexAttention does not support
    backward on CPU"), so training on CPU needs the ``ref`` backend (or ``triton`` under the interpreter).
"""

from __future__ import annotations

from functools import cache

import torch
from torch import Tensor
from torch.nn.attention.flex_attention import BlockMask, and_masks, create_block_mask, flex_attention


@cache
def _compiled_flex():
    return torch.compile(flex_attention, dynamic=False)


def _flex_fn(device: torch.device):
    return _compiled_flex() if device.type == "cuda" else flex_attention


def _causal(b, h, q_idx, kv_idx):
    return kv_idx <= q_idx


def block_masks(doc_ids: Tensor | None, B: int, T: int, window_left: int, device: torch.device):
    """(causal ∧ same-doc, causal ∧ same-doc ∧ window) BlockMasks; doc_ids [B, T] labels or None (one document)."""
    mods = [_causal]
    if doc_ids is not None:
        docs = doc_ids.expand(B, T)

        def same_doc(b, h, q_idx, kv_idx):
            return docs[b, q_idx] == docs[b, kv_idx]

        mods.append(same_doc)

    def in_window(b, h, q_idx, kv_idx):
        return q_idx - kv_idx <= window_left

    n = None if doc_ids is None else B
    glob = create_block_mask(and_masks(*mods), n, None, T, T, device=device)
    loc = create_block_mask(and_masks(*mods, in_window), n, None, T, T, device=device)
    return glob, loc


class _MaskCache:
    """Remembers the masks of the last call: every layer of a forward passes the same ``doc_ids`` tensor.

    Holding that tensor keeps its identity unique, so an ``is`` check is enough to know the masks still fit
    (callers must not edit ``doc_ids`` in place between layers, which the model never does).
    """

    def __init__(self):
        self.doc_ids: Tensor | None = None
        self.shape: tuple | None = None
        self.masks: tuple[BlockMask, BlockMask] | None = None

    def get(self, doc_ids: Tensor | None, B: int, T: int, window_left: int, device: torch.device):
        shape = (B, T, window_left, str(device))
        if self.masks is None or self.doc_ids is not doc_ids or self.shape != shape:
            self.masks = block_masks(doc_ids, B, T, window_left, device)
            self.doc_ids, self.shape = doc_ids, shape
        return self.masks


_MASKS = _MaskCache()


def gated_attn_flex(
    q: Tensor, k1: Tensor, v1: Tensor, k2: Tensor, v2: Tensor, gate: Tensor, window_left: int,
    doc_ids: Tensor | None = None,
) -> Tensor:
    """The ``flex`` backend of ``attention.gated_loop_attn`` (same arguments and result)."""
    if q.device.type == "cpu" and torch.is_grad_enabled() and any(
        x.requires_grad for x in (q, k1, v1, k2, v2)
    ):
        raise RuntimeError("attention backend 'flex': torch 2.13 has no FlexAttention backward on CPU; "
                           "train on CPU with attn_backend='ref' (or run flex on a CUDA device)")
    if q.device.type == "cpu":  # no graph is being recorded; torch checks requires_grad, not grad mode
        q, k1, v1, k2, v2 = (x.detach() for x in (q, k1, v1, k2, v2))
    B, H, T, _ = q.shape
    glob, loc = _MASKS.get(doc_ids, B, T, window_left, q.device)
    fn = _flex_fn(q.device)
    gqa = H != k1.size(1)
    o_glob = fn(q, k1, v1, block_mask=glob, enable_gqa=gqa)
    o_loc = fn(q, k2, v2, block_mask=loc, enable_gqa=gqa)
    return gate * o_glob + (1.0 - gate) * o_loc
