"""Dense-to-loop folding: build a PLT whose shared block comes from the layers of a dense checkpoint.

LoopCoder-v1 folds a dense model "by aggregating weights from representative blocks" without a published recipe;
we offer the three Relaxed-Recursive-Transformer strategies (Bae et al., arXiv 2410.20672), with
k = n_dense / n_shared:

* ``identity``: the shared block is the whole dense stack (n_shared = n_dense; R = 2 doubles depth, v1 style).
* ``stepwise``: shared layer i = dense layer i*k (keep every k-th layer).
* ``average``:  shared layer i = mean of dense layers i*k .. i*k + k - 1.

New parameters keep their PLT init: gate W_g = 0, b_g = 0 (g = 0.5), gate norm = 1. With n_loops = 1 and identity
folding the PLT computes exactly the dense model's logits.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor

from .config import PLTConfig
from .dense import DenseLM
from .model import PLT

FOLD_METHODS = ("identity", "stepwise", "average")
_LAYER = re.compile(r"^layers\.(\d+)\.(.+)$")


def fold_state_dict(dense_sd: dict[str, Tensor], n_dense: int, n_shared: int, method: str) -> dict[str, Tensor]:
    """Map a dense state dict (``layers.{j}.*`` plus embeddings/norm/head) onto ``n_shared`` shared layers."""
    if method not in FOLD_METHODS:
        raise ValueError(f"method must be one of {FOLD_METHODS}, got {method!r}")
    if method == "identity" and n_shared != n_dense:
        raise ValueError("identity folding keeps every layer: n_shared must equal n_dense")
    if n_dense % n_shared:
        raise ValueError(f"n_dense={n_dense} is not a multiple of n_shared={n_shared}")
    k = n_dense // n_shared
    per_layer: dict[int, dict[str, Tensor]] = {}
    out: dict[str, Tensor] = {}
    for name, t in dense_sd.items():
        m = _LAYER.match(name)
        if m:
            per_layer.setdefault(int(m.group(1)), {})[m.group(2)] = t
        else:
            out[name] = t.clone()
    if sorted(per_layer) != list(range(n_dense)):
        raise ValueError(f"dense state dict has layers {sorted(per_layer)}, expected 0..{n_dense - 1}")
    for i in range(n_shared):
        group = list(range(i * k, (i + 1) * k))
        for sub in per_layer[group[0]]:
            if method == "average":
                w = torch.stack([per_layer[j][sub] for j in group]).mean(0)
            else:  # identity (k = 1) and stepwise both take the group's first layer
                w = per_layer[group[0]][sub].clone()
            out[f"layers.{i}.{sub}"] = w
    return out


def fold(dense: DenseLM, n_shared: int | None = None, method: str = "identity", **overrides) -> PLT:
    """A PLT initialised from ``dense``; ``overrides`` set the loop fields (n_loops, window_left, clp_shift, ...)."""
    n_dense = dense.config.n_layer
    n_shared = n_dense if n_shared is None else n_shared
    cfg: PLTConfig = dense.config.replace(n_layer=n_shared, **overrides)
    plt = PLT(cfg).to(dtype=dense.tok_emb.weight.dtype, device=dense.tok_emb.weight.device)
    sd = fold_state_dict(dense.state_dict(), n_dense, n_shared, method)
    missing, unexpected = plt.load_state_dict(sd, strict=False)
    bad = [k for k in missing if ".attn.gate." not in k]
    if bad or unexpected:
        raise ValueError(f"state dict mismatch: missing {bad}, unexpected {unexpected}")
    return plt


_HF_NAMES = [
    (r"model\.embed_tokens\.weight", "tok_emb.weight"),
    (r"model\.norm\.weight", "norm.weight"),
    (r"lm_head\.weight", "lm_head.weight"),
    (r"model\.layers\.(\d+)\.input_layernorm\.weight", r"layers.\1.attn_norm.weight"),
    (r"model\.layers\.(\d+)\.post_attention_layernorm\.weight", r"layers.\1.mlp_norm.weight"),
    (r"model\.layers\.(\d+)\.self_attn\.q_proj\.(weight|bias)", r"layers.\1.attn.wq.\2"),
    (r"model\.layers\.(\d+)\.self_attn\.k_proj\.(weight|bias)", r"layers.\1.attn.wk.\2"),
    (r"model\.layers\.(\d+)\.self_attn\.v_proj\.(weight|bias)", r"layers.\1.attn.wv.\2"),
    (r"model\.layers\.(\d+)\.self_attn\.o_proj\.weight", r"layers.\1.attn.wo.weight"),
    (r"model\.layers\.(\d+)\.mlp\.gate_proj\.weight", r"layers.\1.mlp.w1.weight"),
    (r"model\.layers\.(\d+)\.mlp\.up_proj\.weight", r"layers.\1.mlp.w3.weight"),
    (r"model\.layers\.(\d+)\.mlp\.down_proj\.weight", r"layers.\1.mlp.w2.weight"),
]


def from_hf_llama(hf_sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename an HF ``LlamaForCausalLM`` / ``Qwen2ForCausalLM`` state dict to ``DenseLM`` names.

    HF stores q/k already in the rotate-half RoPE layout this code uses, so no permutation is needed; set
    ``rope_theta``, ``norm_eps``, ``qkv_bias`` (Qwen2) and ``tie_embeddings`` in the config to match the checkpoint.
    Rotary buffers (``rotary_emb.inv_freq``) are dropped; any other unknown key is an error.
    """
    out: dict[str, Tensor] = {}
    for name, t in hf_sd.items():
        if name.endswith("rotary_emb.inv_freq"):
            continue
        for pat, repl in _HF_NAMES:
            new, n = re.subn(f"^{pat}$", repl, name)
            if n:
                out[new] = t
                break
        else:
            raise KeyError(f"no DenseLM name for HF key {name!r}")
    return out
