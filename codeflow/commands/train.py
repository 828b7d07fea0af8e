"""``codeflow train`` (also ``python model/train.py``): train the PLT on the lake's Parquet shards.

Every option defaults to "not given", so the order is: TrainConfig defaults < ``--config`` file < options given.
"""

from __future__ import annotations

import click


@click.command(context_settings={"show_default": True})
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="JSON or TOML file of TrainConfig fields (a [train] table or top level); options override it.")
@click.option("--data", multiple=True, metavar="URL[:WEIGHT]",
              help="Lake root or stage folder (any fsspec URL) with a 'text' column; repeat to mix, with weights.")
@click.option("--eval-data", multiple=True, metavar="URL",
              help="Held-out shards for the eval loss (default: the last shard of the first multi-shard source).")
@click.option("--out", help="Run directory (config.json, metrics.jsonl, loss_curve.png, checkpoints/).")
@click.option("--tokenizer", help="Tokenizer folder or tokenizer.json (default: {data}/tokenizer or "
                                  "{lake}/tokenizer; else one is trained into {out}/tokenizer).")
@click.option("--vocab-size", type=int, help="Vocab size of a tokenizer trained by this run.")
@click.option("--preset", type=click.Choice(["tiny", "plt125m", "plt1b"]), help="Model preset.")
@click.option("--loops", type=click.IntRange(min=1), help="R, the number of loops (1 = dense model).")
@click.option("--attn-backend", help="Attention backend of the model config (default: the config's, 'ref').")
@click.option("--seq-len", type=click.IntRange(min=2), help="Tokens per packed row (default: preset max_seq_len).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Rows per rank per micro-step.")
@click.option("--grad-accum", type=click.IntRange(min=1), help="Micro-steps per optimizer step.")
@click.option("--max-steps", type=click.IntRange(min=1), help="Optimizer steps (the cosine schedule's length).")
@click.option("--stop-after", type=click.IntRange(min=0), help="Stop this invocation after N steps "
                                                               "(checkpointed; continue with --resume).")
@click.option("--lr", type=float, help="Peak learning rate.")
@click.option("--min-lr-ratio", type=float, help="Final lr / peak lr of the cosine.")
@click.option("--warmup-steps", type=click.IntRange(min=0))
@click.option("--weight-decay", type=float)
@click.option("--grad-clip", type=float)
@click.option("--eval-every", type=click.IntRange(min=1))
@click.option("--eval-batches", type=click.IntRange(min=1))
@click.option("--ckpt-every", type=click.IntRange(min=1))
@click.option("--log-every", type=click.IntRange(min=1))
@click.option("--seed", type=int)
@click.option("--num-workers", type=click.IntRange(min=0), help="Tokenizer processes per rank (0 = inline).")
@click.option("--dtype", type=click.Choice(["auto", "bf16", "fp32"]),
              help="auto = bf16 autocast on a GPU that supports it, else fp32.")
@click.option("--device", help="auto, cpu, cuda.")
@click.option("--resume", is_flag=True, default=None, help="Continue from the newest checkpoint in --out.")
def train(config_file: str | None, **options) -> None:
    """Train the Parallel Loop Transformer on Parquet shards of the lake."""
    from codeflow.model.train import TrainConfig
    from codeflow.model.train import train as run
    from codeflow.ui import _quiet

    if _quiet:
        options["quiet"] = True
    cfg = TrainConfig.build(config_file, **options)
    try:
        res = run(cfg)
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
    if cfg.quiet:
        return
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        ev = f", eval loss {res.eval_loss:.4f}" if res.eval_loss is not None else ""
        click.echo(f"trained {res.steps} steps, {res.tokens:,} tokens: loss {res.final_loss:.4f}{ev}")
        click.echo(f"data: {res.data_stats}")
        click.echo(f"metrics: {res.metrics}\nloss curve: {res.curve}")
