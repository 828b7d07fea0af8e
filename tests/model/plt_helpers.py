"""Shared helpers for the PLT tests: tiny float64 models whose every parameter is non-trivial.

A uniquely named module rather than a conftest.py, so it cannot shadow another directory's conftest on import.
"""

from __future__ import annotations

import torch

from codeflow.model.plt.config import PLTConfig
from codeflow.model.plt.dense import DenseLM
from codeflow.model.plt.model import PLT


def randomize(model: torch.nn.Module, seed: int = 0, gate_std: float = 0.5) -> torch.nn.Module:
    """Move norms and gates off their init so equivalence tests cannot pass by symmetry (e.g. g = 0.5 everywhere)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g, dtype=p.dtype))
            elif ".attn.gate." in name:
                p.copy_(gate_std * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def make_plt(seed: int = 0, **overrides) -> PLT:
    torch.manual_seed(seed)
    cfg = PLTConfig.from_preset("tiny", **overrides)
    return randomize(PLT(cfg).double().eval(), seed)


def make_dense(seed: int = 0, **overrides) -> DenseLM:
    torch.manual_seed(seed)
    cfg = PLTConfig.from_preset("tiny", **overrides)
    return randomize(DenseLM(cfg).double().eval(), seed)


def set_gate_bias(model: PLT, value: float) -> None:
    """Pin g: sigmoid(+-1e4) is exactly 1 / 0 in float64, so the gated mix degenerates to one branch."""
    with torch.no_grad():
        for blk in model.layers:
            blk.attn.gate.bias.fill_(value)
