"""Limits in which PLT must collapse to a known model: R = 1 (dense), the vanilla loop, and g = 1."""

from __future__ import annotations

import pytest
import torch
from plt_helpers import make_dense, make_plt, set_gate_bias

from codeflow.model.plt.convert import fold

ATOL = 1e-11


def looped_dense_logits(dense, idx, n_loops):
    """A plainly looped transformer: the dense block stack applied n_loops times with full causal KV each loop."""
    B, T = idx.shape
    cos, sin = dense._rope(torch.arange(T).expand(B, T))
    x = dense.tok_emb(idx)
    for _ in range(n_loops):
        for blk in dense.layers:
            x = blk(x, cos, sin)
    return dense.lm_head(dense.norm(x))


@pytest.mark.parametrize("tie", [False, True])
def test_r1_equals_dense(tie):
    dense = make_dense(tie_embeddings=tie, qkv_bias=True)
    plt = fold(dense, n_loops=1)
    idx = torch.randint(0, dense.config.vocab_size, (2, 11))
    want = dense(idx)
    got, _ = plt(idx)
    torch.testing.assert_close(got, want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("n_loops", [2, 3])
def test_vanilla_loop_limit_equals_plainly_looped_model(n_loops):
    T = 12
    dense = make_dense()
    plt = fold(
        dense, n_loops=n_loops, clp_shift=False, emb_scale=0.0, hidden_scale=1.0, normalize_per_loop=False,
        window_left=T,
    )  # fmt: skip
    set_gate_bias(plt, -1e4)  # g = 0: only the local branch, which with W >= T is plain causal attention
    idx = torch.randint(0, dense.config.vocab_size, (2, T))
    got, _ = plt(idx)
    torch.testing.assert_close(got, looped_dense_logits(dense, idx, n_loops), atol=ATOL, rtol=0)
    # non-vacuous: with the global branch mixed back in the two models differ
    set_gate_bias(plt, 0.0)
    assert (plt(idx)[0] - got).abs().max() > 1e-4


@pytest.mark.parametrize("gate_mode", ["hidden", "query"])
def test_gate_one_makes_local_branch_irrelevant(gate_mode):
    idx = torch.randint(0, 97, (2, 12))
    outs = []
    for w in (0, 2, 11):
        plt = make_plt(n_loops=3, window_left=w, gate_mode=gate_mode)
        set_gate_bias(plt, 1e4)
        outs.append(plt(idx)[0])
    torch.testing.assert_close(outs[0], outs[1], atol=0, rtol=0)
    torch.testing.assert_close(outs[0], outs[2], atol=0, rtol=0)
    # with g = 0.5 the window does matter
    a, b = make_plt(n_loops=3, window_left=0, gate_mode=gate_mode), make_plt(n_loops=3, window_left=11)
    set_gate_bias(a, 0.0), set_gate_bias(b, 0.0)
    assert (a(idx)[0] - b(idx)[0]).abs().max() > 1e-4


def test_fold_methods_pick_and_average_layers():
    dense = make_dense(n_layer=4)
    sd = dense.state_dict()
    step = fold(dense, n_shared=2, method="stepwise", n_loops=2)
    avg = fold(dense, n_shared=2, method="average", n_loops=2)
    for name in ("attn.wq.weight", "mlp.w2.weight", "attn_norm.weight"):
        torch.testing.assert_close(step.state_dict()[f"layers.1.{name}"], sd[f"layers.2.{name}"], atol=0, rtol=0)
        mean = (sd[f"layers.2.{name}"] + sd[f"layers.3.{name}"]) / 2
        torch.testing.assert_close(avg.state_dict()[f"layers.1.{name}"], mean, atol=1e-15, rtol=0)
    torch.testing.assert_close(avg.tok_emb.weight, dense.tok_emb.weight, atol=0, rtol=0)
    # new gate parameters keep the zero init: g = 0.5, gate norm = 1
    for blk in avg.layers:
        assert torch.all(blk.attn.gate.weight == 0) and torch.all(blk.attn.gate.bias == 0)
        assert torch.all(blk.attn.gate.norm.weight == 1)
    with pytest.raises(ValueError):
        fold(dense, n_shared=3, method="average")
    with pytest.raises(ValueError):
        fold(dense, n_shared=2, method="identity")


def test_fold_identity_r2_doubles_depth_and_runs():
    """v1-style folding: the dense stack becomes the shared block; with g = 0 and no CLP it is the dense run twice."""
    dense = make_dense()
    plt = fold(dense, n_loops=2, clp_shift=False, emb_scale=0.0, normalize_per_loop=False, window_left=64)
    set_gate_bias(plt, -1e4)
    idx = torch.randint(0, 97, (1, 9))
    torch.testing.assert_close(plt(idx)[0], looped_dense_logits(dense, idx, 2), atol=ATOL, rtol=0)


def test_hf_llama_names_load_into_dense():
    from codeflow.model.plt.convert import from_hf_llama
    from codeflow.model.plt.dense import DenseLM

    dense = make_dense(n_layer=1, qkv_bias=True)
    p = dict(dense.named_parameters())
    hf = {
        "model.embed_tokens.weight": p["tok_emb.weight"],
        "model.norm.weight": p["norm.weight"],
        "lm_head.weight": p["lm_head.weight"],
        "model.layers.0.input_layernorm.weight": p["layers.0.attn_norm.weight"],
        "model.layers.0.post_attention_layernorm.weight": p["layers.0.mlp_norm.weight"],
        "model.layers.0.self_attn.q_proj.weight": p["layers.0.attn.wq.weight"],
        "model.layers.0.self_attn.q_proj.bias": p["layers.0.attn.wq.bias"],
        "model.layers.0.self_attn.k_proj.weight": p["layers.0.attn.wk.weight"],
        "model.layers.0.self_attn.k_proj.bias": p["layers.0.attn.wk.bias"],
        "model.layers.0.self_attn.v_proj.weight": p["layers.0.attn.wv.weight"],
        "model.layers.0.self_attn.v_proj.bias": p["layers.0.attn.wv.bias"],
        "model.layers.0.self_attn.o_proj.weight": p["layers.0.attn.wo.weight"],
        "model.layers.0.mlp.gate_proj.weight": p["layers.0.mlp.w1.weight"],
        "model.layers.0.mlp.up_proj.weight": p["layers.0.mlp.w3.weight"],
        "model.layers.0.mlp.down_proj.weight": p["layers.0.mlp.w2.weight"],
        "model.layers.0.self_attn.rotary_emb.inv_freq": torch.ones(4),
    }
    fresh = DenseLM(dense.config).double()
    fresh.load_state_dict(from_hf_llama(hf), strict=True)
    idx = torch.randint(0, 97, (1, 7))
    torch.testing.assert_close(fresh(idx), dense(idx), atol=0, rtol=0)
    with pytest.raises(KeyError):
        from_hf_llama({"model.layers.0.self_attn.q_norm.weight": torch.ones(2)})
