"""Prefill, decoding and sampling for PLT against a ``PLTCache``.

Two decode schedules compute the same numbers (tests hold them to the full forward):

* ``decode_step_naive`` runs the loops of a token one after another (R sequential passes through the block
  stack), as ``extend`` with one token. It is the only option for LoopCoder-v1 (no CLP shift).
* ``decode_step_clp`` is the PLT schedule: loop r of token t needs only E_t, loop r-1's state of token t-1
  (saved last step in ``hprev``) and loop 1's K1 of token t (written earlier in the same layer), so the R loops of
  a step become R rows of ONE pass through the layers -- weights are read once per step, as for a dense model.

``extend`` is the general cache-aware forward (loops sequential over a chunk of new tokens). Prefill, chunked
prefill and naive decode are all ``extend``; rows may carry different numbers of new tokens (right padding).
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor

from .attention import gated_attn_masked, masked_attn
from .cache import PLTCache
from .model import PLT


def _ring_refill(old_len: Tensor, new_len: Tensor, slots: int) -> tuple[Tensor, Tensor]:
    """For each ring slot j: the newest position p < new_len with p % slots == j (or < 0 if none) and whether p
    came from this chunk (p >= old_len). Vectorised and free of duplicate writes even when the chunk wraps."""
    j = torch.arange(slots, device=new_len.device)
    last = (new_len - 1)[:, None]
    p = last - torch.remainder(last - j, slots)
    return p, p >= old_len[:, None]


@torch.no_grad()
def extend(model: PLT, idx: Tensor, cache: PLTCache, n_new: Tensor | None = None) -> Tensor:
    """Append up to T new tokens per row (``idx`` [B, T], right-padded; row b takes ``n_new[b]`` of them).

    Runs the loops sequentially over the chunk, reading and then updating the cache. Returns logits [B, T, V]
    (entries past ``n_new`` are padding). Requires ``lengths + T <= cache.max_len``.
    """
    cfg = model.config
    B, T = idx.shape
    R, W1 = cfg.n_loops, cfg.local_slots
    dev = idx.device
    n_new = torch.full((B,), T, device=dev, dtype=torch.long) if n_new is None else n_new.to(dev)
    old = cache.lengths
    if int((old + T).max()) > cache.max_len:
        raise ValueError(f"cache of {cache.max_len} tokens cannot take {T} more after {int(old.max())}")
    new_len = old + n_new
    pos = old[:, None] + torch.arange(T, device=dev)  # [B, T]; padding gets real positions so no row is all-masked
    cos, sin = model.rope(pos)

    S = int((old + T).max())
    glob_mask = (torch.arange(S, device=dev)[None, None, :] <= pos[:, :, None])[:, None]  # [B, 1, T, S]
    kpos2 = torch.cat([cache.loc_pos, pos], dim=1)  # ring slots, then this chunk
    dist = pos[:, :, None] - kpos2[:, None, :]
    loc_mask = ((kpos2[:, None, :] >= 0) & (dist >= 0) & (dist <= cfg.window_left))[:, None]
    ring_p, ring_new = _ring_refill(old, new_len, W1)
    ring_src = (ring_p - old[:, None]).clamp(0, T - 1)

    ctx = dict(cache=cache, pos=pos, S=S, glob_mask=glob_mask, loc_mask=loc_mask, ring_new=ring_new, ring_src=ring_src)
    E = model.tok_emb(idx)
    h = E
    last = (n_new - 1).clamp(min=0)
    rows = torch.arange(B, device=dev)
    for r in range(R):
        if r > 0:
            hp = model.loop_norm(h)
            saved = hp[rows, last]  # n(h(r)) of each row's last new token, for the next chunk / decode step
            if cfg.clp_shift:
                hp = torch.cat([cache.hprev[r - 1][:, None], hp[:, :-1]], dim=1)
            cache.hprev[r - 1] = torch.where((n_new > 0)[:, None], saved, cache.hprev[r - 1])
            h = model.loop_input(E, hp)
        for i, blk in enumerate(model.layers):
            h = blk(h, cos, sin, partial(_extend_attend, model, r, i, ctx))
    cache.loc_pos = torch.where(ring_p >= 0, ring_p, torch.full_like(ring_p, -1))
    cache.lengths = new_len
    return model.lm_head(model.norm(h))


def _extend_attend(model: PLT, r: int, i: int, ctx: dict, q: Tensor, k: Tensor, v: Tensor, res: Tensor) -> Tensor:
    c: PLTCache = ctx["cache"]
    S = ctx["S"]
    if r == 0:  # loop 1 writes the shared KV (padding lands past new_len and is overwritten before it is read)
        idx = ctx["pos"][:, None, :, None].expand_as(k)
        c.k1[i].scatter_(2, idx, k)
        c.v1[i].scatter_(2, idx, v)
        return masked_attn(q, c.k1[i][:, :, :S], c.v1[i][:, :, :S], ctx["glob_mask"])
    ring_k, ring_v = c.kloc[i][:, r - 1], c.vloc[i][:, r - 1]  # [B, Hkv, W+1, d]
    k2, v2 = torch.cat([ring_k, k], dim=2), torch.cat([ring_v, v], dim=2)
    gate = model.layers[i].attn.gate(res, q)
    o = gated_attn_masked(q, c.k1[i][:, :, :S], c.v1[i][:, :, :S], ctx["glob_mask"], k2, v2, ctx["loc_mask"], gate)
    src = ctx["ring_src"][:, None, :, None].expand_as(ring_k)
    keep = ctx["ring_new"][:, None, :, None]
    c.kloc[i][:, r - 1] = torch.where(keep, k.gather(2, src), ring_k)
    c.vloc[i][:, r - 1] = torch.where(keep, v.gather(2, src), ring_v)
    return o


@torch.no_grad()
def prefill(
    model: PLT, idx: Tensor, cache: PLTCache, lengths: Tensor | None = None, chunk_size: int | None = None
) -> Tensor:
    """Fill the cache with right-padded prompts ``idx`` [B, T] of ``lengths`` tokens; optionally in chunks (the
    first token of a chunk takes ``hprev`` from the previous chunk instead of 0). Returns each row's logits at its
    last prompt token, [B, V]."""
    B, T = idx.shape
    lengths = torch.full((B,), T, dtype=torch.long, device=idx.device) if lengths is None else lengths.to(idx.device)
    chunk = chunk_size or T
    out = None
    for s in range(0, T, chunk):
        part = idx[:, s : s + chunk]
        n_new = (lengths - s).clamp(0, part.size(1))
        logits = extend(model, part, cache, n_new)
        lastl = logits[torch.arange(B, device=idx.device), (n_new - 1).clamp(min=0)]
        out = lastl if out is None else torch.where((n_new > 0)[:, None], lastl, out)
    return out


@torch.no_grad()
def decode_step_naive(model: PLT, idx: Tensor, cache: PLTCache) -> Tensor:
    """One token per row ([B]); loops run one after another. Returns logits [B, V]."""
    return extend(model, idx[:, None], cache)[:, 0]


@torch.no_grad()
def decode_step_clp(model: PLT, idx: Tensor, cache: PLTCache) -> Tensor:
    """One token per row ([B]); all R loops of the step are R rows of one pass (plt.md §4). Returns [B, V]."""
    cfg = model.config
    if not cfg.clp_shift and cfg.n_loops > 1:
        raise ValueError(
            "CLP-batched decode needs clp_shift=True: without the shift loop r needs loop r-1 of the "
            "same token (LoopCoder-v1); use decode_step_naive"
        )
    R, W1 = cfg.n_loops, cfg.local_slots
    B = idx.size(0)
    dev = idx.device
    t = cache.lengths
    if int(t.max()) >= cache.max_len:
        raise ValueError("cache is full")
    e = model.tok_emb(idx)
    X = torch.stack([e] + [model.loop_input(e, cache.hprev[r]) for r in range(R - 1)], dim=1)  # [B, R, D]
    cos, sin = model.rope(t[:, None].expand(B, R))

    S = int(t.max()) + 1
    glob_mask = None if B == 1 else (torch.arange(S, device=dev)[None, :] <= t[:, None])[:, None, None]
    rows = torch.arange(B, device=dev)
    slot = t % W1
    loc_pos = cache.loc_pos.clone()
    loc_pos[rows, slot] = t
    loc_mask = (loc_pos >= 0) & (t[:, None] - loc_pos <= cfg.window_left)
    loc_mask = loc_mask[:, None, None].repeat_interleave(R - 1, dim=0)  # [B*(R-1), 1, 1, W+1]

    ctx = dict(cache=cache, t=t, rows=rows, slot=slot, S=S, glob_mask=glob_mask, loc_mask=loc_mask)
    for i, blk in enumerate(model.layers):
        X = blk(X, cos, sin, partial(_clp_attend, model, i, ctx))
    if R > 1:
        cache.hprev = torch.stack([model.loop_norm(X[:, r]) for r in range(R - 1)])
    cache.loc_pos = loc_pos
    cache.lengths = t + 1
    return model.lm_head(model.norm(X[:, -1]))


def _clp_attend(model: PLT, i: int, ctx: dict, q: Tensor, k: Tensor, v: Tensor, res: Tensor) -> Tensor:
    c: PLTCache = ctx["cache"]
    rows, t, S = ctx["rows"], ctx["t"], ctx["S"]
    B, H, R, d = q.shape
    c.k1[i][rows, :, t] = k[:, :, 0]  # loop-1 KV of token t, written before any row reads it
    c.v1[i][rows, :, t] = v[:, :, 0]
    o_glob = masked_attn(q, c.k1[i][:, :, :S], c.v1[i][:, :, :S], ctx["glob_mask"])  # all R rows, one call
    if R == 1:
        return o_glob
    c.kloc[i][rows, :, :, ctx["slot"]] = k[:, :, 1:].transpose(1, 2)
    c.vloc[i][rows, :, :, ctx["slot"]] = v[:, :, 1:].transpose(1, 2)
    Hkv, W1 = k.size(1), c.kloc.size(-2)
    ql = q[:, :, 1:].transpose(1, 2).reshape(B * (R - 1), H, 1, d)
    kl = c.kloc[i].reshape(B * (R - 1), Hkv, W1, d)
    vl = c.vloc[i].reshape(B * (R - 1), Hkv, W1, d)
    o_loc = masked_attn(ql, kl, vl, ctx["loc_mask"]).view(B, R - 1, H, d).transpose(1, 2)
    g = model.layers[i].attn.gate(res[:, 1:], q[:, :, 1:])
    return torch.cat([o_glob[:, :, :1], g * o_glob[:, :, 1:] + (1 - g) * o_loc], dim=2)


def sample(
    logits: Tensor, temperature: float = 0.0, top_k: int | None = None, generator: torch.Generator | None = None
) -> Tensor:
    """Next token per row from logits [B, V]: greedy at temperature 0, else softmax(logits / T) (optionally top-k)."""
    if temperature <= 0:
        return logits.argmax(-1)
    logits = logits.float() / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.size(-1)), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)[:, 0]


def pad_prompts(prompts: list[list[int]], pad_id: int = 0, device=None) -> tuple[Tensor, Tensor]:
    """Right-pad token lists into ([B, T] ids, [B] lengths)."""
    T = max(len(p) for p in prompts)
    idx = torch.full((len(prompts), T), pad_id, dtype=torch.long, device=device)
    for b, p in enumerate(prompts):
        idx[b, : len(p)] = torch.tensor(p, dtype=torch.long)
    return idx, torch.tensor([len(p) for p in prompts], dtype=torch.long, device=device)


@torch.no_grad()
def generate(
    model: PLT,
    prompts: list[list[int]],
    max_new_tokens: int,
    mode: str = "clp",
    temperature: float = 0.0,
    top_k: int | None = None,
    chunk_size: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Prefill prompts of any lengths, then decode ``max_new_tokens`` per row. Returns the new tokens [B, N]."""
    if mode not in ("clp", "naive"):
        raise ValueError(f"mode must be 'clp' or 'naive', got {mode!r}")
    dev = model.tok_emb.weight.device
    idx, lengths = pad_prompts(prompts, device=dev)
    cache = PLTCache.empty(
        model.config,
        len(prompts),
        idx.size(1) + max_new_tokens,  # prefill writes padding up to the longest prompt
        device=dev,
        dtype=model.tok_emb.weight.dtype,
    )
    step = decode_step_clp if mode == "clp" else decode_step_naive
    logits = prefill(model, idx, cache, lengths, chunk_size)
    out = []
    for _ in range(max_new_tokens):
        nxt = sample(logits, temperature, top_k, generator)
        out.append(nxt)
        logits = step(model, nxt, cache)
    return torch.stack(out, dim=1)
