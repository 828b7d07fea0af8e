"""Decode-step latency and KV-cache size of PLT versus naive loop decoding and the dense model of the same block.

Not a test: it prints ratios for the README. The PLT claim is that a CLP-batched step (all R loops as R rows of
one pass) costs about one dense step -- weights are read once -- while naive looping costs about R dense steps;
and that the cache is about the dense cache (full KV for loop 1 only, a W+1 ring per later loop).

    python bench/model.py --preset plt125m --context 1024 --steps 20          # CPU
    python bench/model.py --preset plt1b --device cuda --dtype bfloat16        # GPU

The caches are filled to ``--context`` tokens with random keys/values (the step cost does not depend on their
values), so the numbers are the cost of decoding token ``context + 1``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from codeflow.model.plt.cache import DenseCache, PLTCache, dense_kv_bytes, plt_kv_bytes, vanilla_loop_kv_bytes
from codeflow.model.plt.config import PRESETS, PLTConfig
from codeflow.model.plt.convert import fold
from codeflow.model.plt.dense import DenseLM
from codeflow.model.plt.generate import decode_step_clp, decode_step_naive


def fill(cache, context: int, W1: int | None = None) -> None:
    """Pretend ``context`` tokens are cached: random KV, lengths and (for PLT) ring positions set accordingly."""
    for t in vars(cache).values():
        if t.is_floating_point():
            t.normal_()
    cache.lengths.fill_(context)
    if W1 is not None:
        j = torch.arange(W1, device=cache.loc_pos.device)
        cache.loc_pos.copy_((context - 1 - torch.remainder(context - 1 - j, W1)).expand_as(cache.loc_pos))


def time_interleaved(
    methods: dict, context: int, batch: int, steps: int, warmup: int, device: str, vocab: int, stat: str = "median"
):
    """Milliseconds of one decode step per method at a fixed context length (median or min over steps).

    Methods take turns step by step, so drifting load on a shared machine hits all of them alike; on a machine
    shared with other jobs use ``min`` (interference only ever adds time, as timeit's docs argue).
    """
    tok = torch.randint(0, vocab, (batch,), device=device)
    for _, cache, W1 in methods.values():
        fill(cache, context, W1)
    times: dict[str, list[float]] = {name: [] for name in methods}
    for i in range(warmup + steps):
        for name, (step, cache, _) in methods.items():
            cache.lengths.fill_(context)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            step(tok, cache)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            if i >= warmup:
                times[name].append((time.perf_counter() - t0) * 1e3)
    agg = statistics.median if stat == "median" else min
    return {name: agg(ts) for name, ts in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="plt125m", choices=sorted(PRESETS))
    ap.add_argument("--loops", type=int, default=None, help="override n_loops (R)")
    ap.add_argument("--context", type=int, default=1024, help="cached tokens before the timed step")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--cache-context", type=int, default=4096, help="context for the KV-bytes comparison")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--stat", default="median", choices=["median", "min"], help="aggregate over timed steps")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads on CPU")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    over = {"max_seq_len": max(args.context + 1, PRESETS[args.preset].max_seq_len)}
    if args.loops:
        over["n_loops"] = args.loops
    cfg: PLTConfig = PRESETS[args.preset].replace(**over)
    torch.manual_seed(0)
    dense = DenseLM(cfg).to(device=args.device, dtype=dtype).eval()
    plt = fold(dense, n_loops=cfg.n_loops).eval()  # identical block weights, zero-init gates

    print(
        f"# preset={args.preset} R={cfg.n_loops} L={cfg.n_layer} d={cfg.d_model} W={cfg.window_left} "
        f"params={plt.num_params() / 1e6:.1f}M device={args.device} dtype={args.dtype} "
        f"threads={torch.get_num_threads()} context={args.context} stat={args.stat} of {args.steps} steps"
    )
    print("\n| batch | dense ms | naive ms | CLP ms | naive / dense | CLP / dense | CLP / naive |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    S = args.context + 1
    for B in args.batch:
        W1 = cfg.local_slots
        methods = {
            "dense": (dense.decode_step, DenseCache.empty(cfg, B, S, args.device, dtype), None),
            "naive": (lambda x, c: decode_step_naive(plt, x, c), PLTCache.empty(cfg, B, S, args.device, dtype), W1),
            "clp": (lambda x, c: decode_step_clp(plt, x, c), PLTCache.empty(cfg, B, S, args.device, dtype), W1),
        }
        ms = time_interleaved(
            methods, args.context, B, args.steps, args.warmup, args.device, cfg.vocab_size, args.stat
        )
        t_dense, t_naive, t_clp = ms["dense"], ms["naive"], ms["clp"]
        if B == 1:
            clp_b1 = t_clp / t_dense
        print(
            f"| {B} | {t_dense:.2f} | {t_naive:.2f} | {t_clp:.2f} | {t_naive / t_dense:.2f}x "
            f"| {t_clp / t_dense:.2f}x | {t_clp / t_naive:.2f}x |"
        )

    S4 = args.cache_context
    p, d, v = (f(cfg, S4, 1, torch.bfloat16) for f in (plt_kv_bytes, dense_kv_bytes, vanilla_loop_kv_bytes))
    print(
        f"\nKV cache per sequence at {S4} tokens (bf16): PLT {p / 2**20:.2f} MiB, dense {d / 2**20:.2f} MiB, "
        f"vanilla {cfg.n_loops}-loop {v / 2**20:.2f} MiB"
    )
    print(f"PLT / dense = {p / d:.4f}x   PLT / vanilla loop = {p / v:.4f}x")
    verdict = {True: "met", False: "MISSED"}
    if 1 in args.batch:
        print(f"targets: CLP step <= 1.3x dense at batch 1: {verdict[clp_b1 <= 1.3]} ({clp_b1:.2f}x); ", end="")
    print(f"cache <= 1.05x dense: {verdict[p / d <= 1.05]} ({p / d:.3f}x)")


if __name__ == "__main__":
    main()
