"""Every attention backend against ``ref``: output and all six gradients over awkward shapes.

On CPU the Triton kernels run in Triton's numpy interpreter (TRITON_INTERPRET=1, float32, tile 16) and FlexAttention
forward runs eagerly (torch 2.13 has no FlexAttention backward on CPU, so its gradients are checked on CUDA only).
float16 also runs through the interpreter (its bfloat16 ``tl.dot`` is broken, triton-lang/triton#11584). On a CUDA
machine the same cases also run in bfloat16 through the compiled kernels.
"""

from __future__ import annotations

import importlib
import os
import sys

import pytest
import torch

from codeflow.model.plt.attention import BACKENDS, gated_loop_attn
from codeflow.model.plt.config import PLTConfig
from codeflow.model.plt.model import PLT

CUDA = torch.cuda.is_available()


def _import_gated_attn():
    """Import the Triton module so that, without a GPU, its kernels run in Triton's interpreter.

    ``triton.jit`` reads TRITON_INTERPRET when the decorators run and Triton reads it again at launch, so on a
    machine without CUDA the variable is set for the rest of this test process (nothing else here launches Triton
    kernels on CPU), and the module is re-imported if something imported it before without the variable.
    """
    name = "codeflow.model.kernels.gated_attn"
    if CUDA:
        return importlib.import_module(name)
    os.environ["TRITON_INTERPRET"] = "1"
    if name in sys.modules and not sys.modules[name].INTERPRETED:
        return importlib.reload(sys.modules[name])
    return importlib.import_module(name)


gated_attn = _import_gated_attn()


def _docs(lengths: list[int]) -> list[int]:
    return [i for i, n in enumerate(lengths) for _ in range(n)]


# (B, Hq, Hkv, T, d, W, doc lengths per row or None). Tiles are 16 on CPU, 32-64 on GPU.
CASES = {
    "T_and_W_off_block": (2, 4, 2, 37, 16, 5, [[10, 20, 7], [37]]),
    "W_0": (1, 2, 2, 33, 16, 0, [[5, 28]]),
    "T_below_W": (2, 2, 1, 20, 16, 40, None),
    "block_multiples_no_docs": (1, 2, 2, 32, 16, 16, None),
    "gqa4_one_token_docs": (1, 4, 1, 50, 16, 17, [[1, 16, 1, 30, 2]]),
    "head_dim_12": (2, 2, 1, 23, 12, 7, [[11, 12], [3, 20]]),
}
GPU_CASES = {**CASES, "d128_long": (2, 8, 2, 300, 128, 64, [[100, 64, 136], [300]])}
GRAD_NAMES = ("dq", "dk1", "dv1", "dk2", "dv2", "dgate")


def make_inputs(case, dtype, device, seed=0):
    B, H, Hkv, T, d, W, docs = case
    g = torch.Generator(device="cpu").manual_seed(seed)
    q = torch.randn(B, H, T, d, generator=g)
    kvs = [torch.randn(B, Hkv, T, d, generator=g) for _ in range(4)]
    gate = torch.rand(B, H, T, 1, generator=g)
    doc_ids = None if docs is None else torch.tensor([_docs(row) for row in docs])
    assert doc_ids is None or doc_ids.shape == (B, T)
    leaves = [x.to(device=device, dtype=dtype).requires_grad_() for x in (q, *kvs, gate)]
    do = torch.randn(B, H, T, d, generator=g).to(device=device, dtype=dtype)
    return leaves, W, None if doc_ids is None else doc_ids.to(device), do


def run(backend, leaves, W, doc_ids, do):
    out = gated_loop_attn(*leaves, W, doc_ids, backend=backend)
    grads = torch.autograd.grad(out, leaves, do)
    return out, grads


def reference(leaves, W, doc_ids, do):
    """``ref`` in float32 on the same (possibly bf16-rounded) inputs."""
    leaves32 = [x.detach().float().requires_grad_() for x in leaves]
    return run("ref", leaves32, W, doc_ids, do.float())


def assert_close(got, want, tol, what):
    got, want = got.float(), want.float()
    err = (got - want).abs().max().item()
    scale = max(1.0, want.abs().max().item())
    assert err <= tol * scale, f"{what}: max abs error {err:.3g} > {tol} x {scale:.3g}"


def check_against_ref(backend, case, dtype, device, tol):
    leaves, W, doc_ids, do = make_inputs(case, dtype, device)
    out, grads = run(backend, leaves, W, doc_ids, do)
    want, want_grads = reference(leaves, W, doc_ids, do)
    assert out.dtype == dtype and all(gr.dtype == dtype for gr in grads)
    assert_close(out, want, tol, f"{backend} output")
    for name, gr, wg in zip(GRAD_NAMES, grads, want_grads, strict=True):
        assert gr.shape == wg.shape, name
        assert_close(gr, wg, tol, f"{backend} {name}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_triton_matches_ref_fp32(name):
    check_against_ref("triton", CASES[name], torch.float32, "cuda" if CUDA else "cpu", 1e-4)


@pytest.mark.parametrize("name", ["T_and_W_off_block", "head_dim_12"])
def test_triton_matches_ref_fp16(name):
    """Half-precision operands, float32 accumulation (bf16 itself runs on CUDA only: see the test below)."""
    check_against_ref("triton", CASES[name], torch.float16, "cuda" if CUDA else "cpu", 2e-2)


@pytest.mark.skipif(CUDA, reason="the interpreter's limitation; on CUDA bf16 is tested in test_gpu_backends_match_ref")
def test_triton_interpreter_refuses_bf16_instead_of_computing_garbage():
    leaves, W, doc_ids, _ = make_inputs(CASES["W_0"], torch.bfloat16, "cpu")
    with pytest.raises(ValueError, match="bfloat16"):
        gated_loop_attn(*leaves, W, doc_ids, backend="triton")


@pytest.mark.parametrize("name", sorted(CASES))
def test_flex_forward_matches_ref_fp32(name):
    leaves, W, doc_ids, _ = make_inputs(CASES[name], torch.float32, "cpu")
    with torch.no_grad():
        got = gated_loop_attn(*leaves, W, doc_ids, backend="flex")
        want = gated_loop_attn(*leaves, W, doc_ids, backend="ref")
    assert_close(got, want, 1e-5, "flex output")


def test_flex_backward_on_cpu_is_refused_with_a_pointer_to_ref():
    leaves, W, doc_ids, _ = make_inputs(CASES["W_0"], torch.float32, "cpu")
    with pytest.raises(RuntimeError, match="attn_backend='ref'"):
        gated_loop_attn(*leaves, W, doc_ids, backend="flex")


@pytest.mark.skipif(not CUDA, reason="FlexAttention backward and compiled kernels need CUDA")
@pytest.mark.parametrize("name", sorted(GPU_CASES))
@pytest.mark.parametrize("backend", ["triton", "flex"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_gpu_backends_match_ref(backend, name, dtype):
    tol = 1e-4 if dtype == torch.float32 else 3e-2
    if backend == "flex" and dtype == torch.float32:
        tol = 1e-3  # compiled flex uses TF32 matmuls for float32
    check_against_ref(backend, GPU_CASES[name], dtype, "cuda", tol)


def test_window_edge_and_documents_are_exact_in_triton():
    """A key at t - W - 1 or in another document has no effect on row t; one at t - W does (not just "close")."""
    B, H, T, d, W = 1, 2, 24, 16, 5
    dev = "cuda" if CUDA else "cpu"
    leaves, _, _, _ = make_inputs((B, H, H, T, d, W, None), torch.float32, dev)
    q, k1, v1, k2, v2, gate = (x.detach() for x in leaves)
    doc_ids = torch.tensor([_docs([12, 12])], device=dev)
    base = gated_loop_attn(q, k1, v1, k2, v2, gate, W, doc_ids, backend="triton")
    t = 20
    v2b = v2.clone()
    v2b[:, :, t - W - 1] += 100.0  # out of t's window
    v1b = v1.clone()
    v1b[:, :, 5] += 100.0  # other document
    out = gated_loop_attn(q, k1, v1b, k2, v2b, gate, W, doc_ids, backend="triton")
    assert torch.equal(out[:, :, t], base[:, :, t])
    v2c = v2.clone()
    v2c[:, :, t - W] += 100.0  # the window's oldest key
    out = gated_loop_attn(q, k1, v1, k2, v2c, gate, W, doc_ids, backend="triton")
    assert (out[:, :, t] - base[:, :, t]).abs().max() > 1e-3


def test_auto_is_ref_on_cpu_tensors():
    leaves, W, doc_ids, _ = make_inputs(CASES["W_0"], torch.float32, "cpu")
    with torch.no_grad():
        assert torch.equal(gated_loop_attn(*leaves, W, doc_ids, backend="auto"),
                           gated_loop_attn(*leaves, W, doc_ids, backend="ref"))


def test_config_rejects_unknown_backend():
    assert set(BACKENDS) == {"ref", "flex", "triton", "auto"}
    with pytest.raises(ValueError, match="attn_backend"):
        PLTConfig(attn_backend="flash3")


def test_model_trains_with_the_triton_backend():
    """Same weights, same packed batch: loss and every parameter gradient agree between ``ref`` and ``triton``."""
    dev = "cuda" if CUDA else "cpu"
    torch.manual_seed(0)
    cfg = PLTConfig.from_preset("tiny", n_layer=1, n_head=4, n_kv_head=2, d_model=64, window_left=3)
    ref_model = PLT(cfg).to(dev)
    tri_model = PLT(cfg.replace(attn_backend="triton")).to(dev)
    tri_model.load_state_dict(ref_model.state_dict())
    with torch.no_grad():  # move the gates off 0.5 so dgate matters
        for m in (ref_model, tri_model):
            for blk in m.layers:
                blk.attn.gate.bias.copy_(torch.linspace(-1, 1, cfg.n_head))
    idx = torch.randint(0, cfg.vocab_size, (2, 19), device=dev)
    doc_ids = torch.tensor([_docs([7, 12]), _docs([19])], device=dev)
    targets = idx.roll(-1, 1)
    losses = []
    for m in (ref_model, tri_model):
        _, loss = m(idx, targets, doc_ids)
        loss.backward()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    for (name, p_ref), p_tri in zip(ref_model.named_parameters(), tri_model.parameters(), strict=True):
        assert_close(p_tri.grad, p_ref.grad, 1e-4, name)


def test_model_under_autocast_feeds_the_kernel_one_dtype():
    """Under autocast RoPE hands float32 q, k next to half-precision v; the kernel gets them cast as SDPA does."""
    dev = "cuda" if CUDA else "cpu"
    half = torch.bfloat16 if CUDA else torch.float16  # the interpreter has no bf16 matmul
    cfg = PLTConfig.from_preset("tiny", n_layer=1, d_model=64)
    idx = torch.randint(0, cfg.vocab_size, (2, 19), generator=torch.Generator().manual_seed(0)).to(dev)
    losses = {}
    for backend in ("ref", "triton"):
        torch.manual_seed(1)
        model = PLT(cfg.replace(attn_backend=backend)).to(dev)
        with torch.autocast(dev, dtype=half):
            _, loss = model(idx, idx.roll(-1, 1))
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
        losses[backend] = loss.item()
    assert losses["triton"] == pytest.approx(losses["ref"], rel=1e-3)


def test_mixed_dtypes_without_autocast_are_an_error():
    leaves, W, doc_ids, _ = make_inputs(CASES["W_0"], torch.float32, "cpu")
    leaves[2] = leaves[2].detach().half()
    with pytest.raises(ValueError, match="share a dtype"):
        gated_loop_attn(*leaves, W, doc_ids, backend="triton")
