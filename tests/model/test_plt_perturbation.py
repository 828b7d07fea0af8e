"""Dependence structure: the CLP shift, causality, the local window edge and document isolation."""

from __future__ import annotations

import pytest
import torch
from plt_helpers import make_plt

from codeflow.model.plt.attention import gated_loop_attn


def loop_inputs_with_perturbed_loop1(model, idx, t0, doc_ids=None, delta=1.0):
    """Inputs of every loop (pre-hook on layer 0), with loop 1's output perturbed at position t0 (hook on the last
    layer, whose r-th call is loop r)."""
    calls = {"last": 0}
    seen = []

    def perturb(_mod, _args, out):
        calls["last"] += 1
        if calls["last"] == 1 and t0 is not None:
            out = out.clone()
            out[:, t0] += delta
        return out

    h1 = model.layers[-1].register_forward_hook(perturb)
    h2 = model.layers[0].register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    try:
        model(idx, doc_ids=doc_ids)
    finally:
        h1.remove(), h2.remove()
    return seen


@pytest.mark.parametrize("normalize", [True, False])
def test_loop2_input_reads_previous_token_of_loop1(normalize):
    model = make_plt(n_loops=2, normalize_per_loop=normalize)
    idx = torch.randint(0, 97, (1, 10))
    t0 = 4
    base = loop_inputs_with_perturbed_loop1(model, idx, None)[1]
    pert = loop_inputs_with_perturbed_loop1(model, idx, t0)[1]
    changed = ((pert - base).abs().amax(-1) > 1e-9)[0]
    assert changed.nonzero().flatten().tolist() == [t0 + 1]  # h(1)_t0 feeds loop 2 at t0 + 1 only


def test_v1_loop2_input_reads_same_token():
    model = make_plt(n_loops=2, clp_shift=False, emb_scale=0.0, normalize_per_loop=False)
    idx = torch.randint(0, 97, (1, 10))
    base = loop_inputs_with_perturbed_loop1(model, idx, None)[1]
    pert = loop_inputs_with_perturbed_loop1(model, idx, 4)[1]
    assert ((pert - base).abs().amax(-1) > 1e-9)[0].nonzero().flatten().tolist() == [4]


def test_shifted_state_is_zero_at_sequence_and_document_starts():
    a, b = 0.7, 0.05
    model = make_plt(n_loops=3, emb_scale=a, hidden_scale=b)
    idx = torch.randint(0, 97, (1, 12))
    doc_ids = torch.tensor([[0] * 4 + [1] * 5 + [2] * 3])
    E = model.tok_emb(idx)
    inputs = loop_inputs_with_perturbed_loop1(model, idx, None, doc_ids)
    assert len(inputs) == 3
    for x in inputs[1:]:
        for t in (0, 4, 9):  # document starts: B(r) = a*E, nothing from the previous document
            torch.testing.assert_close(x[0, t], a * E[0, t], atol=1e-15, rtol=0)
        assert (x[0, 5] - a * E[0, 5]).abs().max() > 1e-6


def test_causality_future_tokens_do_not_leak():
    model = make_plt(n_loops=3)
    idx = torch.randint(0, 97, (2, 12))
    base = model(idx)[0]
    for t0 in (0, 5, 11):
        idx2 = idx.clone()
        idx2[:, t0] = (idx2[:, t0] + 1) % 97
        out = model(idx2)[0]
        torch.testing.assert_close(out[:, :t0], base[:, :t0], atol=0, rtol=0)
        assert (out[:, t0] - base[:, t0]).abs().max() > 1e-6


def test_packed_documents_are_isolated():
    model = make_plt(n_loops=3)
    A, B = torch.randint(0, 97, (1, 5)), torch.randint(0, 97, (1, 7))
    packed = torch.cat([A, B], 1)
    doc_ids = torch.tensor([[3] * 5 + [8] * 7])
    out = model(packed, doc_ids=doc_ids)[0]
    torch.testing.assert_close(out[:, :5], model(A)[0], atol=1e-12, rtol=0)
    torch.testing.assert_close(out[:, 5:], model(B)[0], atol=1e-12, rtol=0)  # RoPE, shift and masks restart
    A2 = (A + 1) % 97
    out2 = model(torch.cat([A2, B], 1), doc_ids=doc_ids)[0]
    torch.testing.assert_close(out2[:, 5:], out[:, 5:], atol=0, rtol=0)
    # the same label on two separated runs still means two documents
    out3 = model(torch.cat([A, B, A], 1), doc_ids=torch.tensor([[3] * 5 + [8] * 7 + [3] * 5]))[0]
    torch.testing.assert_close(out3[:, 12:], model(A)[0], atol=1e-12, rtol=0)


def _rand_attn_inputs(T=10, Hq=4, Hkv=2, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(1, Hq, T, d, generator=g, dtype=torch.float64)
    k1, v1, k2, v2 = (torch.randn(1, Hkv, T, d, generator=g, dtype=torch.float64) for _ in range(4))
    gate = torch.rand(1, Hq, T, 1, generator=g, dtype=torch.float64)
    return q, k1, v1, k2, v2, gate


@pytest.mark.parametrize("W", [0, 2, 3])
def test_window_edge(W):
    q, k1, v1, k2, v2, gate = _rand_attn_inputs()
    t = 8
    base = gated_loop_attn(q, k1, v1, k2, v2, gate, W)
    for which, changes in ((t - W - 1, False), (t - W, True)):
        k2p, v2p = k2.clone(), v2.clone()
        k2p[:, :, which] += 1.0
        v2p[:, :, which] += 1.0
        out = gated_loop_attn(q, k1, v1, k2p, v2p, gate, W)
        assert ((out[:, :, t] - base[:, :, t]).abs().max() > 1e-9) == changes
    # the global branch is not windowed: K1 at t - W - 1 still matters
    k1p = k1.clone()
    k1p[:, :, t - W - 1] += 1.0
    assert (gated_loop_attn(q, k1p, v1, k2, v2, gate, W)[:, :, t] - base[:, :, t]).abs().max() > 1e-9


def test_window_zero_local_branch_is_own_value():
    q, k1, v1, k2, v2, gate = _rand_attn_inputs()
    out = gated_loop_attn(q, k1, v1, k2, v2, torch.zeros_like(gate), 0)
    torch.testing.assert_close(out, v2.repeat_interleave(2, dim=1), atol=1e-14, rtol=0)  # GQA: head h reads kv h//2
