"""Gated loop attention on a GPU: the fused Triton kernel versus FlexAttention, the unfused reference and the floor.

Not a test: it prints a table and ratios for docs/model.md. For each sequence length it times the forward and the
forward+backward of one later-loop attention layer (global causal branch + sliding-window branch + gate), and the
peak extra GPU memory of each, for

  * ``triton``: ``model/kernels/gated_attn.py``, both branches and the gate in one kernel;
  * ``flex``:   two compiled FlexAttention calls with block-sparse masks, gate mixed afterwards;
  * ``ref``:    the unfused oracle, two SDPA calls with explicit boolean masks plus the gate;
  * ``sdpa2``:  a leaner unfused form (one flash causal SDPA call, one SDPA call with a band mask, the gate);
                single-document rows only (``--docs 1``);
  * ``floor``:  ONE FlashAttention-style causal SDPA call of the same shape (no window branch, no gate) -- the
                physical floor the fused kernel is measured against (it must also do a band and a gate).

Targets (issue 18): triton >= 1.5x faster than ref, and within 1.3x of the floor.

    python bench/kernels.py                          # GPU: T = 4096 and 16384, d = 128, W = 64, bf16
    python bench/kernels.py --seq 4096 --docs 4      # four packed documents per row
    python bench/kernels.py --smoke                  # CPU: tiny shapes through the Triton interpreter (checks the
                                                     # script and agreement only; its timings mean nothing)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import torch


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seq", type=int, nargs="+", default=[4096, 16384], help="sequence lengths T")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--heads", type=int, default=16, help="query heads")
    p.add_argument("--kv-heads", type=int, default=4, help="key/value heads (GQA)")
    p.add_argument("--head-dim", type=int, default=128)
    p.add_argument("--window", type=int, default=64, help="window_left W (query t sees t-W..t locally)")
    p.add_argument("--docs", type=int, default=1, help="equal-length packed documents per row")
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--methods", nargs="+", default=["triton", "flex", "ref", "sdpa2", "floor"])
    p.add_argument("--smoke", action="store_true", help="CPU smoke run through the Triton interpreter")
    return p.parse_args(argv)


def make_inputs(args, T: int, device: str, dtype: torch.dtype):
    g = torch.Generator(device=device).manual_seed(0)
    B, H, Hkv, d = args.batch, args.heads, args.kv_heads, args.head_dim
    q = torch.randn(B, H, T, d, device=device, dtype=dtype, generator=g)
    kvs = [torch.randn(B, Hkv, T, d, device=device, dtype=dtype, generator=g) for _ in range(4)]
    gate = torch.rand(B, H, T, 1, device=device, dtype=dtype, generator=g)
    do = torch.randn(B, H, T, d, device=device, dtype=dtype, generator=g)
    doc_ids = None
    if args.docs > 1:
        doc_ids = (torch.arange(T, device=device) * args.docs // T).expand(B, T).contiguous()
    return [q, *kvs, gate], doc_ids, do


def method_fn(name: str, window: int, doc_ids):
    from codeflow.model.plt.attention import gated_loop_attn

    if name == "sdpa2":  # the unfused form without ref's explicit causal mask: flash causal + a banded-mask call
        import torch.nn.functional as F

        def sdpa2(q, k1, v1, k2, v2, gate):
            gqa = q.size(1) != k1.size(1)
            T = q.size(2)
            i = torch.arange(T, device=q.device)
            dist = i[:, None] - i[None, :]
            band = (dist >= 0) & (dist <= window)
            o_g = F.scaled_dot_product_attention(q, k1, v1, is_causal=True, enable_gqa=gqa)
            o_l = F.scaled_dot_product_attention(q, k2, v2, attn_mask=band, enable_gqa=gqa)
            return gate * o_g + (1 - gate) * o_l

        return sdpa2
    if name == "floor":
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel

        def floor(q, k1, v1, k2, v2, gate):
            backends = [SDPBackend.FLASH_ATTENTION] if q.is_cuda else [SDPBackend.MATH]
            with sdpa_kernel(backends):
                return F.scaled_dot_product_attention(q, k1, v1, is_causal=True, enable_gqa=q.size(1) != k1.size(1))

        return floor
    return lambda q, k1, v1, k2, v2, gate: gated_loop_attn(q, k1, v1, k2, v2, gate, window, doc_ids, backend=name)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(fn, leaves, do, backward: bool, args, device: str) -> tuple[float, int]:
    """(median ms, peak bytes above the inputs) of fn, forward only or forward + backward."""
    xs = [x.detach().requires_grad_(backward) for x in leaves]

    def once():
        if backward:
            fn(*xs).backward(do)
            for x in xs:
                x.grad = None
        else:
            with torch.no_grad():
                fn(*xs)

    for _ in range(args.warmup):
        once()
    sync(device)
    base = 0
    if device == "cuda":
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.repeats):
        sync(device)
        t0 = time.perf_counter()
        once()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    peak = torch.cuda.max_memory_allocated() - base if device == "cuda" else 0
    return statistics.median(times), peak


def agreement(methods, leaves, do, args, doc_ids, device) -> dict[str, float]:
    """Max |output - ref output| per method at this shape (a sanity check that each timed thing is the right one)."""
    from codeflow.model.plt.attention import gated_loop_attn

    with torch.no_grad():
        want = gated_loop_attn(*[x.float() for x in leaves], args.window, doc_ids, backend="ref")
        out = {}
        for name in methods:
            if name in ("ref", "floor"):
                continue
            if name == "sdpa2" and doc_ids is not None:
                continue
            got = method_fn(name, args.window, doc_ids)(*leaves)
            out[name] = (got.float() - want).abs().max().item()
    return out


def header(device: str, dtype: torch.dtype, args) -> str:
    import triton

    dev = torch.cuda.get_device_name() if device == "cuda" else f"CPU ({platform.processor() or platform.machine()})"
    return (f"device: {dev}; torch {torch.__version__}, triton {triton.__version__}; dtype {dtype}; "
            f"B={args.batch} Hq={args.heads} Hkv={args.kv_heads} d={args.head_dim} W={args.window} "
            f"docs/row={args.docs}; median of {args.repeats}")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.smoke:
        if torch.cuda.is_available():
            print("--smoke is the CPU check; on this GPU machine run without it", file=sys.stderr)
            return 2
        os.environ["TRITON_INTERPRET"] = "1"  # before gated_attn (and so triton.jit) is imported
        args.seq, args.heads, args.kv_heads, args.head_dim, args.window, args.docs = [48], 2, 1, 16, 5, 2
        args.repeats, args.warmup, args.dtype = 2, 1, "float32"
        args.methods = [m for m in args.methods if m != "flex"]  # no FlexAttention backward on CPU
        device = "cpu"
    elif not torch.cuda.is_available():
        print("bench/kernels.py times GPU kernels and found no CUDA device (torch "
              f"{torch.__version__}). Run it on a GPU machine, or `python bench/kernels.py --smoke` for a CPU "
              "check of the script through the Triton interpreter.", file=sys.stderr)
        return 2
    else:
        device = "cuda"
    dtype = getattr(torch, args.dtype)
    print(header(device, dtype, args))
    if args.smoke:
        print("SMOKE MODE: interpreter timings, not kernel performance")

    rows = []
    for T in args.seq:
        leaves, doc_ids, do = make_inputs(args, T, device, dtype)
        errs = agreement(args.methods, leaves, do, args, doc_ids, device)
        res = {}
        for name in args.methods:
            if name == "sdpa2" and doc_ids is not None:
                continue  # its masks know no documents
            fn = method_fn(name, args.window, doc_ids)
            fwd = measure(fn, leaves, do, False, args, device)
            both = measure(fn, leaves, do, True, args, device)
            res[name] = (fwd, both)
            rows.append((T, name, fwd[0], both[0], fwd[1], both[1], errs.get(name)))
        ratios = []
        if "triton" in res and "ref" in res:
            ratios.append(f"ref/triton fwd {res['ref'][0][0] / res['triton'][0][0]:.2f}x, "
                          f"fwd+bwd {res['ref'][1][0] / res['triton'][1][0]:.2f}x (target >= 1.5x)")
        if "triton" in res and "sdpa2" in res:
            ratios.append(f"sdpa2/triton fwd {res['sdpa2'][0][0] / res['triton'][0][0]:.2f}x, "
                          f"fwd+bwd {res['sdpa2'][1][0] / res['triton'][1][0]:.2f}x")
        if "triton" in res and "floor" in res:
            ratios.append(f"triton/floor fwd {res['triton'][0][0] / res['floor'][0][0]:.2f}x, "
                          f"fwd+bwd {res['triton'][1][0] / res['floor'][1][0]:.2f}x (target <= 1.3x)")
        if "triton" in res and "flex" in res:
            ratios.append(f"flex/triton fwd {res['flex'][0][0] / res['triton'][0][0]:.2f}x, "
                          f"fwd+bwd {res['flex'][1][0] / res['triton'][1][0]:.2f}x")
        rows.append((T, "ratios", "; ".join(ratios)))
        del leaves, do
        if device == "cuda":
            torch.cuda.empty_cache()

    print("| T | method | fwd ms | fwd+bwd ms | fwd peak MiB | fwd+bwd peak MiB | max abs err vs ref |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for row in rows:
        if row[1] == "ratios":
            continue
        T, name, f, fb, mf, mfb, err = row
        e = "-" if err is None else f"{err:.2e}"
        print(f"| {T} | {name} | {f:.3f} | {fb:.3f} | {mf / 2**20:.0f} | {mfb / 2**20:.0f} | {e} |")
    for row in rows:
        if row[1] == "ratios":
            print(f"T={row[0]}: {row[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
