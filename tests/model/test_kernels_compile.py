"""The fused kernels compile for a Hopper GPU (sm_90) in bf16 at head size 128, without register spills.

The interpreter tests check the arithmetic but not the compiled path (type rules of ``tl.dot``, layouts, register
budget). Triton can compile ahead of time for a target without a GPU present, through its bundled ``ptxas``, so this
runs on CPU too. It runs in a subprocess because test_kernels.py switches this process to the interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, os, subprocess, sys, tempfile
    import torch, triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from codeflow.model.kernels import gated_attn as ga

    assert not ga.INTERPRETED
    D, dt = 128, "*bf16"
    cfg = ga._blocks(D, torch.device("cuda"))  # the tile sizes the CUDA path launches with
    ptxas = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "ptxas")
    ptrs = dict(Q=dt, K1=dt, V1=dt, K2=dt, V2=dt, K=dt, V=dt, G=dt, OUT=dt, OG=dt, OL=dt, DO=dt, DQ=dt, DK=dt, DV=dt,
                LSE_G="*fp32", LSE_L="*fp32", LSE="*fp32", DELTA_G="*fp32", DELTA_L="*fp32", DELTA="*fp32",
                DG="*fp32", DS="*i32", DE="*i32")
    floats = {"qk_scale", "sm_scale"}
    common = dict(BLOCK_D=cfg["block_d"], D=D)
    jobs = {
        "_fwd": dict(common, BLOCK_M=cfg["fwd"][0], BLOCK_N=cfg["fwd"][1], PREC="tf32"),
        "_bwd_preprocess": dict(common, BLOCK_M=cfg["dq"][0]),
        "_bwd_dq": dict(common, BLOCK_M=cfg["dq"][0], BLOCK_N=cfg["dq"][1], PREC="tf32"),
        "_bwd_dkdv": dict(common, BLOCK_M=cfg["dkdv"][0], BLOCK_N=cfg["dkdv"][1], PREC="tf32", LOCAL=True),
    }
    out = {}
    for name, cx in jobs.items():
        fn = getattr(ga, name)
        sig = {a: "constexpr" if a in cx else ptrs.get(a, "fp32" if a in floats else "i32") for a in fn.arg_names}
        k = triton.compile(ASTSource(fn, sig, constexprs=cx), target=GPUTarget("cuda", 90, 32),
                           options=dict(num_warps=cfg["warps"], num_stages=cfg["stages"]))
        with tempfile.NamedTemporaryFile("w", suffix=".ptx", delete=False) as f:
            f.write(k.asm["ptx"])
        info = subprocess.run([ptxas, "-arch=sm_90a", "-v", f.name, "-o", os.devnull],
                              capture_output=True, text=True, check=True).stderr
        os.unlink(f.name)
        spill = [ln for ln in info.splitlines() if "spill stores" in ln]
        out[name] = {"spill_stores": int(spill[0].split("bytes stack frame, ")[1].split(" bytes")[0]),
                     "shared": k.metadata.shared}
    print(json.dumps(out))
    """
)


def _ptxas_available() -> bool:
    import triton

    return os.path.exists(os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "ptxas"))


@pytest.mark.skipif(not _ptxas_available(), reason="this Triton wheel has no bundled ptxas")
def test_kernels_compile_for_sm90_bf16_without_spills():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(out) == {"_fwd", "_bwd_preprocess", "_bwd_dq", "_bwd_dkdv"}
    for name, info in out.items():
        assert info["spill_stores"] == 0, f"{name} spills registers: {info}"
        assert info["shared"] <= 227 * 1024, f"{name} needs more shared memory than an H100/H200 SM has: {info}"
