"""Training throughput of the PLT (R = 2) against the dense model of the same block (R = 1), and the data share.

Not a test: it prints the ratio for the README. Both models are trained by the real trainer (``model/train.py``:
packed lake loader with tokenizer worker processes, AdamW, clipping, checkpoint at the end) on the same shards,
in one run, taking turns in rounds of ``--round-steps`` steps (each round resumes its run from the checkpoint, so
drifting load on a shared machine hits both alike). A training step of the PLT runs the shared block R times, so
its tokens/s should be close to 1/R of the dense model's; the gated loop attention adds a second (windowed)
attention per later loop.

``data share`` = time the training loop waited for the next batch / step time. The loader tokenizes in worker
processes ahead of the trainer, so the target is under 5%. ``tok/CPU-s`` divides tokens by the trainer process's
CPU time (all torch threads), the figure a machine shared with other jobs distorts least.

    python bench/train.py                                    # this checkout's own source files as the lake
    python bench/train.py --data ./lake --preset plt125m --seq-len 512 --batch-size 4 --steps 12
    python bench/train.py --device cuda --preset plt125m --seq-len 2048 --batch-size 8 --steps 50

Without ``--data`` the lake is built from this repository's text files (code, docs) as one document stage, so the
numbers come from real code.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import pyarrow as pa
import torch

from codeflow.lake import StageOutput
from codeflow.model.data import resolve_sources, sample_texts
from codeflow.model.tokenizer import save_tokenizer, train_tokenizer
from codeflow.model.train import TrainConfig, train
from codeflow.records import DOCUMENT_SCHEMA, REJECT_SCHEMA, stable_id

REPO = Path(__file__).resolve().parents[1]


def repo_lake(root: Path, n_shards: int = 4) -> str:
    """This checkout's .py/.md/.c/.toml files as a document stage (written with the lake writer)."""
    files = sorted(p for ext in ("py", "md", "c", "toml") for p in REPO.rglob(f"*.{ext}")
                   if ".venv" not in p.parts and "lake" not in p.parts and not any(x.startswith(".") for x in p.parts))
    texts = [p.read_text(errors="replace") for p in files]
    out = StageOutput(str(root / "documents" / "repo"))
    for s in range(n_shards):
        rows = [{"id": stable_id(t), "text": t, "source": str(files[i]), "url": None, "language": None,
                 "metadata": None} for i, t in list(enumerate(texts))[s::n_shards]]
        out.commit_shard(s, pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), REJECT_SCHEMA.empty_table(), {},
                         f"repo-{s}", "bench")
    return out.url


def config(args: argparse.Namespace, data: str, tok: str, loops: int, out: Path) -> TrainConfig:
    return TrainConfig(data=[data], tokenizer=tok, out=str(out), preset=args.preset, loops=loops,
                       seq_len=args.seq_len, batch_size=args.batch_size, max_steps=args.steps, warmup_steps=2,
                       eval_every=10**9, ckpt_every=10**9, log_every=1, num_workers=args.num_workers,
                       device=args.device, dtype=args.dtype, quiet=True, stop_after=args.round_steps, resume=True)


def summarize(metrics: Path, round_steps: int, warmup: int) -> dict:
    """Throughput over the steps that are neither warmup nor among the first two of a round.

    Each round is a new process whose tokenizer worker starts first (seconds of spawn and imports); the step
    that waits for it is the first or, when the restored leftover tokens cover one batch, the second. That
    one-off cost is reported apart (``startup_s``): over a real run of thousands of steps it vanishes.
    """
    rows = [json.loads(x) for x in metrics.read_text().splitlines()]
    startup = [r["data_s"] for r in rows if (r["step"] - 1) % round_steps < 2]
    rows = [r for r in rows if r["step"] > warmup and (r["step"] - 1) % round_steps >= 2]
    tps = [r["tokens_per_s"] for r in rows]
    tokens = sum(r["tokens_per_s"] * r["step_s"] for r in rows)
    return {"tokens_per_s": statistics.median(tps), "best_tokens_per_s": max(tps),
            "tokens_per_cpu_s": tokens / sum(r["cpu_s"] for r in rows),
            "data_share": sum(r["data_s"] for r in rows) / sum(r["step_s"] for r in rows), "steps": len(rows),
            "startup_s": max(startup)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="lake root or stage folder (default: this repo's files as a lake)")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3, help="first steps left out of the statistics")
    ap.add_argument("--round-steps", type=int, default=5, help="steps per turn before the other model runs")
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--num-workers", type=int, default=1)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--keep", help="folder to keep the lake, tokenizer and both runs' metrics in")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        data = args.data or repo_lake(root / "lake")
        sources = resolve_sources([data])
        texts, n_bytes = sample_texts(sources, max_bytes=16 << 20)
        tok = str(root / "tokenizer")
        save_tokenizer(train_tokenizer(texts, args.vocab_size), tok, [s.name for s in sources], len(texts), n_bytes)
        # Rounds of --round-steps steps, dense and PLT taking turns (each round resumes the run from its
        # checkpoint), so drifting load on a shared machine hits both alike.
        outs = {loops: root / f"run-r{loops}" for loops in (1, 2)}
        final: dict[int, float] = {}
        for _ in range(0, args.steps, args.round_steps):
            for loops in (1, 2):  # dense first: the anchor
                res = train(config(args, data, tok, loops, outs[loops]))
                final[loops] = res.final_loss
        results = {loops: {**summarize(outs[loops] / "metrics.jsonl", args.round_steps, args.warmup),
                           "loss": final[loops]} for loops in (1, 2)}
    dense, plt = results[1], results[2]
    print(f"preset {args.preset}, seq {args.seq_len}, batch {args.batch_size}, {args.steps} steps in rounds of "
          f"{args.round_steps} (dense and PLT alternating; {dense['steps']} steps counted), device {args.device}, "
          f"dtype {args.dtype}, torch threads {torch.get_num_threads()}, tokenizer workers {args.num_workers}")
    print(f"{'model':<12}{'tok/s med':>11}{'tok/s best':>12}{'tok/CPU-s':>11}{'data share':>12}{'final loss':>12}")
    for name, r in (("dense R=1", dense), ("PLT R=2", plt)):
        print(f"{name:<12}{r['tokens_per_s']:>11,.0f}{r['best_tokens_per_s']:>12,.0f}{r['tokens_per_cpu_s']:>11,.0f}"
              f"{r['data_share']:>11.2%}{r['loss']:>12.3f}")
    print(f"PLT R=2 / dense: {plt['tokens_per_s'] / dense['tokens_per_s']:.2f}x wall (median), "
          f"{plt['tokens_per_cpu_s'] / dense['tokens_per_cpu_s']:.2f}x per CPU-second "
          f"(ideal for R=2 loops run one after another: 0.50x)")
    print(f"tokenizer worker start-up per process (one-off, not in the share): up to "
          f"{max(dense['startup_s'], plt['startup_s']):.1f} s")
    worst = max(dense["data_share"], plt["data_share"])
    print(f"data loading share of step time: {worst:.2%} (target < 5%: {'met' if worst < 0.05 else 'NOT met'})")


if __name__ == "__main__":
    main()
