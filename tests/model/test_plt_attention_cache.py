"""Reference attention gradients, init values, cache size and the training loss."""

from __future__ import annotations

import pytest
import torch
from plt_helpers import make_plt

from codeflow.model.plt.attention import gated_loop_attn
from codeflow.model.plt.cache import DenseCache, PLTCache, dense_kv_bytes, plt_kv_bytes, vanilla_loop_kv_bytes
from codeflow.model.plt.config import PRESETS, PLTConfig
from codeflow.model.plt.model import PLT


@pytest.mark.parametrize("doc_ids", [None, torch.tensor([[0, 0, 0, 1, 1, 1, 1]])])
def test_ref_attention_gradcheck(doc_ids):
    g = torch.Generator().manual_seed(0)
    T, d = 7, 3
    q = torch.randn(1, 4, T, d, generator=g, dtype=torch.float64, requires_grad=True)
    kvs = [torch.randn(1, 2, T, d, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(4)]
    gate = torch.rand(1, 4, T, 1, generator=g, dtype=torch.float64, requires_grad=True)

    def fn(q, k1, v1, k2, v2, gate):
        return gated_loop_attn(q, k1, v1, k2, v2, gate, 2, doc_ids)

    assert torch.autograd.gradcheck(fn, (q, *kvs, gate), eps=1e-6, atol=1e-7)


def test_unknown_backend_is_an_error():
    x = torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match="backend"):
        gated_loop_attn(x, x, x, x, x, x[..., :1], 1, backend="nope")


@pytest.mark.parametrize("gate_mode", ["hidden", "query"])
def test_gate_is_half_at_init(gate_mode):
    torch.manual_seed(0)
    model = PLT(PLTConfig.from_preset("tiny", n_loops=3, gate_mode=gate_mode))
    gates = []
    hooks = [blk.attn.gate.register_forward_hook(lambda _m, _a, out: gates.append(out)) for blk in model.layers]
    model(torch.randint(0, 97, (2, 9)))
    for h in hooks:
        h.remove()
    assert len(gates) == model.config.n_layer * 2  # used by loops 2 and 3 only, never by loop 1
    assert all(torch.all(g == 0.5) for g in gates)


@pytest.mark.parametrize("R,W,S", [(2, 64, 4096), (3, 3, 40), (1, 3, 16)])
def test_cache_bytes_match_formula(R, W, S):
    cfg = PLTConfig.from_preset("tiny", n_loops=R, window_left=W)
    L, Hkv, d, B = cfg.n_layer, cfg.n_kv_head, cfg.head_dim, 3
    cache = PLTCache.empty(cfg, B, S, dtype=torch.bfloat16)
    want = 2 * Hkv * d * 2 * B * (L * S + (R - 1) * L * (W + 1))  # K and V, bf16, token-slots of plt.md §4
    assert cache.kv_bytes() == want == plt_kv_bytes(cfg, S, B, torch.bfloat16)
    dense = DenseCache.empty(cfg, B, S, dtype=torch.bfloat16)
    assert dense.kv_bytes() == dense_kv_bytes(cfg, S, B, torch.bfloat16) == 2 * Hkv * d * 2 * B * L * S
    assert vanilla_loop_kv_bytes(cfg, S, B) == R * dense.kv_bytes()


def test_cache_overhead_at_4k_is_small():
    cfg = PRESETS["plt125m"]
    ratio = plt_kv_bytes(cfg, 4096) / dense_kv_bytes(cfg, 4096)
    assert ratio == pytest.approx(1 + 65 / 4096) and ratio <= 1.05
    assert plt_kv_bytes(cfg, 4096) / vanilla_loop_kv_bytes(cfg, 4096) < 0.51


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_param_count(name):
    cfg = PRESETS[name]
    if name == "tiny":
        assert PLT(cfg).num_params() == cfg.num_params()
    else:  # build on the meta device: counts shapes without allocating 0.1-1B parameters
        with torch.device("meta"):
            assert PLT(cfg).num_params() == cfg.num_params()
    assert {"plt125m": (110e6, 140e6), "plt1b": (0.9e9, 1.1e9)}.get(name, (0, 1e6))[0] <= cfg.num_params()


def test_loss_is_last_loop_cross_entropy_and_reaches_all_loops():
    model = make_plt(n_loops=2)
    idx = torch.randint(0, 97, (2, 8))
    targets = torch.randint(0, 97, (2, 8))
    targets[0, :3] = -1
    logits, loss = model(idx, targets)
    keep = targets != -1
    want = torch.nn.functional.cross_entropy(logits[keep], targets[keep])
    torch.testing.assert_close(loss, want.float(), atol=1e-6, rtol=0)
    loss.backward()
    for blk in model.layers:  # gates only act in loops >= 2; K1 and E also get gradient through later loops
        assert blk.attn.gate.weight.grad.abs().sum() > 0
    assert model.tok_emb.weight.grad.abs().sum() > 0


def test_config_rejects_bad_shapes():
    with pytest.raises(ValueError):
        PLTConfig(n_head=4, n_kv_head=3)
    with pytest.raises(ValueError):
        PLTConfig(gate_mode="both")
    with pytest.raises(KeyError):
        PLTConfig.from_preset("huge")
