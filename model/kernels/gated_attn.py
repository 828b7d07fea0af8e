"""Fused gated loop attention (PLT / LoopCoder eq. 2-5) as Triton kernels with a hand-written backward.

    O = g * softmax_causal,doc(Q K1^T) V1 + (1 - g) * softmax_causal,doc,window(Q K2^T) V2

The unfused form runs two attention calls, writes O_glob and O_loc to memory, reads them back for the gate mix and
reads Q twice. Here one forward kernel loads a query block once and keeps two independent online-softmax states
(one per branch) in registers; the global branch visits key blocks from the query block's document start up to the
diagonal, the local branch only the few blocks of the band ``[q_start - W, q_end]``. The gate mix happens before
anything is stored. Saved for the backward: the two log-sum-exps and the two branch outputs (needed for
``dgate = sum_d dO * (O_glob - O_loc)`` and the softmax deltas).

Backward (FlashAttention-2 structure, one pass per output kind):
  * ``_bwd_preprocess``: dgate, delta_g = g * rowsum(dO * O_g), delta_l = (1 - g) * rowsum(dO * O_l).
  * ``_bwd_dq``: one dq accumulator per query block fed by both branches (the global blocks, then the band).
  * ``_bwd_dkdv``: per key block and KV head, dK/dV of one branch, summed over the query heads of its GQA group
    and the query blocks that can see the key (all later blocks of the document; for the local branch only those
    within ``W`` rows). Launched once per branch, so each program holds two accumulators, not four.

Packed documents are given as ``doc_ids`` [B, T] (contiguous runs of one label = one document, as
``model.segment_ids`` produces). The kernels see them as two int32 tables: the first and one-past-last token of
each token's document. With contiguous documents and causality, key j is visible from query i iff
``doc_start[i] <= j <= i``, so no per-element label comparison is needed and block ranges follow directly.

Precision: scores and accumulators are float32; inputs may be float32, bfloat16 or float16 (matmul operands stay
in the input dtype, as in FlashAttention). float32 inputs use IEEE matmuls (not TF32), so they match the float32
reference to ~1e-5. On CPU the kernels run under ``TRITON_INTERPRET=1`` (set before this module is imported), in
float32 or float16: Triton 3.7's interpreter has no bfloat16 ``tl.dot`` (triton-lang/triton#11584), so bfloat16 is
refused there rather than computed wrongly.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl
from torch import Tensor
from triton import knobs

# triton.jit decides at decoration time (i.e. now) whether kernels are compiled or run by the numpy interpreter
INTERPRETED = bool(knobs.runtime.interpret)
LOG2E = 1.4426950408889634  # softmax in base 2: exp(x) = exp2(x * log2(e))


@triton.jit
def _fwd_branch(
    acc, l_i, m_i, q, K, V, skt, svt, offs_m, offs_d, ds, ds_max, m0, lo, hi, T, W, D, qk_scale,
    LOCAL: tl.constexpr, BLOCK_N: tl.constexpr, PREC: tl.constexpr,
):
    """Online softmax of one branch over key blocks [lo, hi) (two of these run per query block)."""
    for start_n in range(lo, hi, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        kv_mask = (offs_n[:, None] < T) & (offs_d[None, :] < D)
        k = tl.load(K + offs_n[:, None] * skt + offs_d[None, :], mask=kv_mask, other=0.0)
        v = tl.load(V + offs_n[:, None] * svt + offs_d[None, :], mask=kv_mask, other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision=PREC) * qk_scale
        # only blocks that cross the diagonal, a document start or the window edge need a mask
        edge = (start_n + BLOCK_N - 1 > m0) | (start_n < ds_max)
        if LOCAL:
            edge = edge | (hi - 1 - start_n > W)
        if edge:
            valid = (offs_n[None, :] <= offs_m[:, None]) & (offs_n[None, :] >= ds[:, None])
            if LOCAL:
                valid = valid & (offs_m[:, None] - offs_n[None, :] <= W)
            s = tl.where(valid, s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        # a row that has seen no visible key yet keeps m = -inf; shift by 0 so exp2 gives 0, not NaN
        m_use = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.math.exp2(s - m_use[:, None])
        alpha = tl.math.exp2(m_i - m_use)
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PREC)
        m_i = m_new
    return acc, l_i, m_i


@triton.jit
def _fwd(
    Q, K1, V1, K2, V2, G, OUT, OG, OL, LSE_G, LSE_L, DS,
    sqb, sqh, sqt, sk1b, sk1h, sk1t, sv1b, sv1h, sv1t, sk2b, sk2h, sk2t, sv2b, sv2h, sv2t, sgb, sgh, sgt,
    H, GROUP, T, W, qk_scale, D: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, PREC: tl.constexpr,
):
    pid_m, pid_bh = tl.program_id(0), tl.program_id(1)
    b, h = pid_bh // H, pid_bh % H
    hk = h // GROUP
    m0 = pid_m * BLOCK_M
    offs_m = m0 + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    row_ok = offs_m < T
    q_mask = row_ok[:, None] & (offs_d[None, :] < D)
    q = tl.load(Q + b * sqb + h * sqh + offs_m[:, None] * sqt + offs_d[None, :], mask=q_mask, other=0.0)
    g = tl.load(G + b * sgb + h * sgh + offs_m * sgt, mask=row_ok, other=0.0).to(tl.float32)
    ds = tl.load(DS + b * T + offs_m, mask=row_ok, other=0)
    q_lo = tl.load(DS + b * T + m0)  # documents are contiguous, so the block's first row has the earliest start
    ds_max = tl.max(ds, 0)
    hi = tl.minimum(m0 + BLOCK_M, T)

    acc_g = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    l_g = tl.zeros([BLOCK_M], dtype=tl.float32)
    m_g = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    acc_g, l_g, m_g = _fwd_branch(
        acc_g, l_g, m_g, q, K1 + b * sk1b + hk * sk1h, V1 + b * sv1b + hk * sv1h, sk1t, sv1t,
        offs_m, offs_d, ds, ds_max, m0, (q_lo // BLOCK_N) * BLOCK_N, hi, T, W, D, qk_scale, False, BLOCK_N, PREC,
    )
    acc_l = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    l_l = tl.zeros([BLOCK_M], dtype=tl.float32)
    m_l = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    lo_l = tl.maximum(q_lo, m0 - W)
    acc_l, l_l, m_l = _fwd_branch(
        acc_l, l_l, m_l, q, K2 + b * sk2b + hk * sk2h, V2 + b * sv2b + hk * sv2h, sk2t, sv2t,
        offs_m, offs_d, ds, ds_max, m0, (lo_l // BLOCK_N) * BLOCK_N, hi, T, W, D, qk_scale, True, BLOCK_N, PREC,
    )
    # padding rows (offs_m >= T) have l = 0; they are never stored, but keep them finite
    l_g = tl.where(row_ok, l_g, 1.0)
    l_l = tl.where(row_ok, l_l, 1.0)
    o_g = acc_g / l_g[:, None]
    o_l = acc_l / l_l[:, None]
    o = g[:, None] * o_g + (1.0 - g[:, None]) * o_l

    out = pid_bh * T * D + offs_m[:, None] * D + offs_d[None, :]  # outputs are contiguous [B, H, T, D]
    tl.store(OUT + out, o.to(OUT.dtype.element_ty), mask=q_mask)
    tl.store(OG + out, o_g.to(OG.dtype.element_ty), mask=q_mask)
    tl.store(OL + out, o_l.to(OL.dtype.element_ty), mask=q_mask)
    tl.store(LSE_G + pid_bh * T + offs_m, m_g + tl.math.log2(l_g), mask=row_ok)
    tl.store(LSE_L + pid_bh * T + offs_m, m_l + tl.math.log2(l_l), mask=row_ok)


@triton.jit
def _bwd_preprocess(
    DO, OG, OL, G, DG, DELTA_G, DELTA_L, sgb, sgh, sgt, H, T, D: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr,
):
    """dgate = <dO, O_g - O_l>; the softmax deltas of each branch with the gate folded into dO."""
    pid_m, pid_bh = tl.program_id(0), tl.program_id(1)
    b, h = pid_bh // H, pid_bh % H
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    row_ok = offs_m < T
    mask = row_ok[:, None] & (offs_d[None, :] < D)
    off = pid_bh * T * D + offs_m[:, None] * D + offs_d[None, :]
    do = tl.load(DO + off, mask=mask, other=0.0).to(tl.float32)
    o_g = tl.load(OG + off, mask=mask, other=0.0).to(tl.float32)
    o_l = tl.load(OL + off, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(G + b * sgb + h * sgh + offs_m * sgt, mask=row_ok, other=0.0).to(tl.float32)
    dot_g = tl.sum(do * o_g, 1)
    dot_l = tl.sum(do * o_l, 1)
    tl.store(DG + pid_bh * T + offs_m, dot_g - dot_l, mask=row_ok)
    tl.store(DELTA_G + pid_bh * T + offs_m, g * dot_g, mask=row_ok)
    tl.store(DELTA_L + pid_bh * T + offs_m, (1.0 - g) * dot_l, mask=row_ok)


@triton.jit
def _dq_branch(
    dq, q, do, lse, delta, K, V, skt, svt, offs_m, offs_d, ds, ds_max, m0, lo, hi, T, W, D, qk_scale,
    LOCAL: tl.constexpr, BLOCK_N: tl.constexpr, PREC: tl.constexpr,
):
    """dq += dS K over key blocks [lo, hi) of one branch; ``do`` already carries the branch's gate factor."""
    for start_n in range(lo, hi, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        kv_mask = (offs_n[:, None] < T) & (offs_d[None, :] < D)
        k = tl.load(K + offs_n[:, None] * skt + offs_d[None, :], mask=kv_mask, other=0.0)
        v = tl.load(V + offs_n[:, None] * svt + offs_d[None, :], mask=kv_mask, other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision=PREC) * qk_scale
        p = tl.math.exp2(s - lse[:, None])
        edge = (start_n + BLOCK_N - 1 > m0) | (start_n < ds_max)
        if LOCAL:
            edge = edge | (hi - 1 - start_n > W)
        if edge:
            valid = (offs_n[None, :] <= offs_m[:, None]) & (offs_n[None, :] >= ds[:, None])
            if LOCAL:
                valid = valid & (offs_m[:, None] - offs_n[None, :] <= W)
            p = tl.where(valid, p, 0.0)
        dp = tl.dot(do, tl.trans(v), input_precision=PREC)
        dsc = p * (dp - delta[:, None])
        dq += tl.dot(dsc.to(k.dtype), k, input_precision=PREC)
    return dq


@triton.jit
def _bwd_dq(
    Q, K1, V1, K2, V2, G, DO, LSE_G, LSE_L, DELTA_G, DELTA_L, DS, DQ,
    sqb, sqh, sqt, sk1b, sk1h, sk1t, sv1b, sv1h, sv1t, sk2b, sk2h, sk2t, sv2b, sv2h, sv2t, sgb, sgh, sgt,
    H, GROUP, T, W, qk_scale, sm_scale, D: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, PREC: tl.constexpr,
):
    pid_m, pid_bh = tl.program_id(0), tl.program_id(1)
    b, h = pid_bh // H, pid_bh % H
    hk = h // GROUP
    m0 = pid_m * BLOCK_M
    offs_m = m0 + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    row_ok = offs_m < T
    mask = row_ok[:, None] & (offs_d[None, :] < D)
    q = tl.load(Q + b * sqb + h * sqh + offs_m[:, None] * sqt + offs_d[None, :], mask=mask, other=0.0)
    do = tl.load(DO + pid_bh * T * D + offs_m[:, None] * D + offs_d[None, :], mask=mask, other=0.0).to(tl.float32)
    g = tl.load(G + b * sgb + h * sgh + offs_m * sgt, mask=row_ok, other=0.0).to(tl.float32)
    ds = tl.load(DS + b * T + offs_m, mask=row_ok, other=0)
    lse_g = tl.load(LSE_G + pid_bh * T + offs_m, mask=row_ok, other=0.0)
    lse_l = tl.load(LSE_L + pid_bh * T + offs_m, mask=row_ok, other=0.0)
    delta_g = tl.load(DELTA_G + pid_bh * T + offs_m, mask=row_ok, other=0.0)
    delta_l = tl.load(DELTA_L + pid_bh * T + offs_m, mask=row_ok, other=0.0)
    q_lo = tl.load(DS + b * T + m0)
    ds_max = tl.max(ds, 0)
    hi = tl.minimum(m0 + BLOCK_M, T)

    dq = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    do_g = (g[:, None] * do).to(q.dtype)
    dq = _dq_branch(
        dq, q, do_g, lse_g, delta_g, K1 + b * sk1b + hk * sk1h, V1 + b * sv1b + hk * sv1h, sk1t, sv1t,
        offs_m, offs_d, ds, ds_max, m0, (q_lo // BLOCK_N) * BLOCK_N, hi, T, W, D, qk_scale, False, BLOCK_N, PREC,
    )
    do_l = ((1.0 - g[:, None]) * do).to(q.dtype)
    lo_l = tl.maximum(q_lo, m0 - W)
    dq = _dq_branch(
        dq, q, do_l, lse_l, delta_l, K2 + b * sk2b + hk * sk2h, V2 + b * sv2b + hk * sv2h, sk2t, sv2t,
        offs_m, offs_d, ds, ds_max, m0, (lo_l // BLOCK_N) * BLOCK_N, hi, T, W, D, qk_scale, True, BLOCK_N, PREC,
    )
    dq = dq * sm_scale
    tl.store(DQ + pid_bh * T * D + offs_m[:, None] * D + offs_d[None, :], dq.to(DQ.dtype.element_ty), mask=mask)


@triton.jit
def _bwd_dkdv(
    Q, K, V, G, DO, LSE, DELTA, DS, DE, DK, DV,
    sqb, sqh, sqt, skb, skh, skt, svb, svh, svt, sgb, sgh, sgt,
    H, H_KV, GROUP, T, W, qk_scale, sm_scale, D: tl.constexpr,
    LOCAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, PREC: tl.constexpr,
):
    """dK, dV of one branch for one key block of one KV head, over every query head of its GQA group."""
    pid_n, pid_bhk = tl.program_id(0), tl.program_id(1)
    b, hk = pid_bhk // H_KV, pid_bhk % H_KV
    n0 = pid_n * BLOCK_N
    offs_n = n0 + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    kv_mask = (offs_n[:, None] < T) & (offs_d[None, :] < D)
    k = tl.load(K + b * skb + hk * skh + offs_n[:, None] * skt + offs_d[None, :], mask=kv_mask, other=0.0)
    v = tl.load(V + b * svb + hk * svh + offs_n[:, None] * svt + offs_d[None, :], mask=kv_mask, other=0.0)
    # queries that can see this block: from its first key to the end of its last key's document (and, for the
    # local branch, no further than W rows past its last key)
    hi = tl.load(DE + b * T + tl.minimum(n0 + BLOCK_N, T) - 1)
    if LOCAL:
        hi = tl.minimum(hi, n0 + BLOCK_N + W)
    lo = (n0 // BLOCK_M) * BLOCK_M

    dk = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    for hh in range(0, GROUP):
        h = hk * GROUP + hh
        bh = b * H + h
        for start_m in range(lo, hi, BLOCK_M):
            offs_m = start_m + tl.arange(0, BLOCK_M)
            row_ok = offs_m < T
            mask = row_ok[:, None] & (offs_d[None, :] < D)
            q = tl.load(Q + b * sqb + h * sqh + offs_m[:, None] * sqt + offs_d[None, :], mask=mask, other=0.0)
            do = tl.load(DO + bh * T * D + offs_m[:, None] * D + offs_d[None, :], mask=mask, other=0.0)
            g = tl.load(G + b * sgb + h * sgh + offs_m * sgt, mask=row_ok, other=0.0).to(tl.float32)
            if LOCAL:
                g = 1.0 - g
            do = (g[:, None] * do.to(tl.float32)).to(q.dtype)
            lse = tl.load(LSE + bh * T + offs_m, mask=row_ok, other=0.0)
            delta = tl.load(DELTA + bh * T + offs_m, mask=row_ok, other=0.0)
            ds = tl.load(DS + b * T + offs_m, mask=row_ok, other=0)
            s_t = tl.dot(k, tl.trans(q), input_precision=PREC) * qk_scale  # [BLOCK_N, BLOCK_M]
            p_t = tl.math.exp2(s_t - lse[None, :])
            edge = (start_m < n0 + BLOCK_N - 1) | (start_m + BLOCK_M > T) | (tl.max(ds, 0) > n0)
            if LOCAL:
                edge = edge | (start_m + BLOCK_M - 1 - n0 > W)
            if edge:
                valid = (offs_m[None, :] >= offs_n[:, None]) & (ds[None, :] <= offs_n[:, None]) & row_ok[None, :]
                if LOCAL:
                    valid = valid & (offs_m[None, :] - offs_n[:, None] <= W)
                p_t = tl.where(valid, p_t, 0.0)
            dv += tl.dot(p_t.to(do.dtype), do, input_precision=PREC)
            dp_t = tl.dot(v, tl.trans(do), input_precision=PREC)
            ds_t = p_t * (dp_t - delta[None, :])
            dk += tl.dot(ds_t.to(q.dtype), q, input_precision=PREC)
    out = pid_bhk * T * D + offs_n[:, None] * D + offs_d[None, :]
    tl.store(DK + out, (dk * sm_scale).to(DK.dtype.element_ty), mask=kv_mask)
    tl.store(DV + out, dv.to(DV.dtype.element_ty), mask=kv_mask)


def doc_bounds(doc_ids: Tensor | None, B: int, T: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """int32 [B, T] tables: first token and one-past-last token of each token's document.

    A document is a maximal run of equal labels, so a label that reappears later starts a new document (the
    ``model.segment_ids`` convention the model already uses).
    """
    t = torch.arange(T, device=device)
    if doc_ids is None:
        return (torch.zeros(B, T, dtype=torch.int32, device=device),
                torch.full((B, T), T, dtype=torch.int32, device=device))
    doc_ids = doc_ids.expand(B, T)
    start = torch.ones(B, T, dtype=torch.bool, device=device)
    start[:, 1:] = doc_ids[:, 1:] != doc_ids[:, :-1]
    end = torch.ones_like(start)
    end[:, :-1] = start[:, 1:]
    first = torch.where(start, t, 0).cummax(1).values
    last = torch.where(end, t + 1, T).flip(1).cummin(1).values.flip(1)
    return first.to(torch.int32).contiguous(), last.to(torch.int32).contiguous()


def _strides(x: Tensor) -> tuple[int, int, int]:
    return x.stride(0), x.stride(1), x.stride(2)


def _last_dim_contiguous(x: Tensor) -> Tensor:
    return x if x.stride(-1) == 1 else x.contiguous()


def _blocks(d: int, device: torch.device) -> dict:
    """Tile sizes: small under the interpreter (it runs every program in numpy), FA2-like on a GPU."""
    block_d = max(16, triton.next_power_of_2(d))
    if device.type != "cuda":
        return dict(fwd=(16, 16), dq=(16, 16), dkdv=(16, 16), block_d=block_d, warps=1, stages=1)
    big = block_d > 64
    return dict(fwd=(64, 64 if big else 64), dq=(64, 32), dkdv=(32, 64), block_d=block_d,
                warps=8 if big else 4, stages=2 if big else 3)


class GatedAttnFn(torch.autograd.Function):
    """Fused forward, hand-written backward (first derivatives only)."""

    @staticmethod
    def forward(ctx, q, k1, v1, k2, v2, gate, window_left, doc_start, doc_end):
        B, H, T, D = q.shape
        H_KV = k1.size(1)
        q, k1, v1, k2, v2 = (_last_dim_contiguous(x) for x in (q, k1, v1, k2, v2))
        W = min(int(window_left), T)  # a wider window sees nothing more; keeps the int32 index math small
        cfg = _blocks(D, q.device)
        prec = "ieee" if q.dtype == torch.float32 else "tf32"
        sm_scale = 1.0 / math.sqrt(D)
        o = torch.empty(B, H, T, D, dtype=q.dtype, device=q.device)
        o_g, o_l = torch.empty_like(o), torch.empty_like(o)
        lse_g = torch.empty(B * H, T, dtype=torch.float32, device=q.device)
        lse_l = torch.empty_like(lse_g)
        BM, BN = cfg["fwd"]
        _fwd[(triton.cdiv(T, BM), B * H)](
            q, k1, v1, k2, v2, gate, o, o_g, o_l, lse_g, lse_l, doc_start,
            *_strides(q), *_strides(k1), *_strides(v1), *_strides(k2), *_strides(v2), *_strides(gate),
            H, H // H_KV, T, W, sm_scale * LOG2E, D,
            BLOCK_M=BM, BLOCK_N=BN, BLOCK_D=cfg["block_d"], PREC=prec,
            num_warps=cfg["warps"], num_stages=cfg["stages"],
        )
        ctx.save_for_backward(q, k1, v1, k2, v2, gate, o_g, o_l, lse_g, lse_l, doc_start, doc_end)
        ctx.window = W
        return o

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, do):
        q, k1, v1, k2, v2, gate, o_g, o_l, lse_g, lse_l, doc_start, doc_end = ctx.saved_tensors
        B, H, T, D = q.shape
        H_KV = k1.size(1)
        group, W = H // H_KV, ctx.window
        cfg = _blocks(D, q.device)
        prec = "ieee" if q.dtype == torch.float32 else "tf32"
        sm_scale = 1.0 / math.sqrt(D)
        qk_scale = sm_scale * LOG2E
        do = do.contiguous()
        dg = torch.empty(B * H, T, dtype=torch.float32, device=q.device)
        delta_g, delta_l = torch.empty_like(dg), torch.empty_like(dg)
        BM, _ = cfg["dq"]
        _bwd_preprocess[(triton.cdiv(T, BM), B * H)](
            do, o_g, o_l, gate, dg, delta_g, delta_l, *_strides(gate), H, T, D, BLOCK_M=BM, BLOCK_D=cfg["block_d"],
        )
        dq = torch.empty(B, H, T, D, dtype=q.dtype, device=q.device)
        BM, BN = cfg["dq"]
        _bwd_dq[(triton.cdiv(T, BM), B * H)](
            q, k1, v1, k2, v2, gate, do, lse_g, lse_l, delta_g, delta_l, doc_start, dq,
            *_strides(q), *_strides(k1), *_strides(v1), *_strides(k2), *_strides(v2), *_strides(gate),
            H, group, T, W, qk_scale, sm_scale, D,
            BLOCK_M=BM, BLOCK_N=BN, BLOCK_D=cfg["block_d"], PREC=prec,
            num_warps=cfg["warps"], num_stages=cfg["stages"],
        )
        BM, BN = cfg["dkdv"]
        grads = []
        for local, (k, v, lse, delta) in enumerate(((k1, v1, lse_g, delta_g), (k2, v2, lse_l, delta_l))):
            dk = torch.empty(B, H_KV, T, D, dtype=k.dtype, device=q.device)
            dv = torch.empty(B, H_KV, T, D, dtype=v.dtype, device=q.device)
            _bwd_dkdv[(triton.cdiv(T, BN), B * H_KV)](
                q, k, v, gate, do, lse, delta, doc_start, doc_end, dk, dv,
                *_strides(q), *_strides(k), *_strides(v), *_strides(gate),
                H, H_KV, group, T, W, qk_scale, sm_scale, D,
                LOCAL=bool(local), BLOCK_M=BM, BLOCK_N=BN, BLOCK_D=cfg["block_d"], PREC=prec,
                num_warps=cfg["warps"], num_stages=cfg["stages"],
            )
            grads += [dk, dv]
        dgate = dg.view(B, H, T, 1).to(gate.dtype)
        return dq, *grads, dgate, None, None, None


def gated_attn_triton(
    q: Tensor, k1: Tensor, v1: Tensor, k2: Tensor, v2: Tensor, gate: Tensor, window_left: int,
    doc_ids: Tensor | None = None,
) -> Tensor:
    """The ``triton`` backend of ``attention.gated_loop_attn`` (same arguments and result)."""
    B, H, T, _ = q.shape
    if H % k1.size(1) or k1.shape != v1.shape or k1.shape != k2.shape or k2.shape != v2.shape:
        raise ValueError(f"GQA shapes do not fit: q {tuple(q.shape)}, k1 {tuple(k1.shape)}, k2 {tuple(k2.shape)}")
    if q.device.type != "cuda" and not INTERPRETED:
        raise RuntimeError("attention backend 'triton' needs a CUDA device, or TRITON_INTERPRET=1 set before "
                           "codeflow.model.kernels.gated_attn is imported (slow; for tests)")
    if INTERPRETED and q.dtype == torch.bfloat16:
        # the interpreter keeps bf16 as raw uint16 and tl.dot multiplies the bit patterns (triton-lang/triton#11584)
        raise ValueError("attention backend 'triton' under TRITON_INTERPRET=1 cannot do bfloat16 (Triton's "
                         "interpreter has no bf16 tl.dot); use float32 or float16 on CPU")
    doc_start, doc_end = doc_bounds(doc_ids, B, T, q.device)
    gate = gate.expand(B, H, T, 1)
    return GatedAttnFn.apply(q, k1, v1, k2, v2, gate, window_left, doc_start, doc_end)

