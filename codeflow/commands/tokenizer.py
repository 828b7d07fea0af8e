"""``codeflow tokenizer train``: a byte-level BPE with codeflow's special tokens, trained on lake text."""

from __future__ import annotations

import click


@click.group()
def tokenizer() -> None:
    """Train the model's tokenizer on the lake."""


@tokenizer.command("train")
@click.option("--input", "inputs", multiple=True, required=True, metavar="URL",
              help="Lake root or stage folder(s) with a 'text' column.")
@click.option("--vocab-size", type=click.IntRange(min=1), required=True, help="Vocabulary size, special tokens "
                                                                            "included.")
@click.option("--out", help="Folder for tokenizer.json + tokenizer_config.json (default: {lake}/tokenizer, "
                            "beside the data, where codeflow train finds it).")
@click.option("--sample-mb", type=click.FloatRange(min=0.001), default=64.0, show_default=True,
              help="Text to train on, taken from every source in turn.")
@click.option("--min-frequency", type=click.IntRange(min=1), default=2, show_default=True)
def train_cmd(inputs: tuple[str, ...], vocab_size: int, out: str | None, sample_mb: float,
              min_frequency: int) -> None:
    """Train a byte-level BPE on a sample of the lake's text and save it beside the data."""
    from codeflow.model.data import resolve_sources, sample_texts
    from codeflow.model.tokenizer import MIN_VOCAB, save_tokenizer, train_tokenizer

    if vocab_size < MIN_VOCAB:
        raise click.BadParameter(f"must be at least {MIN_VOCAB} (256 bytes + special tokens)",
                                 param_hint="--vocab-size")
    sources = resolve_sources(list(inputs))
    texts, n_bytes = sample_texts(sources, max_bytes=int(sample_mb * (1 << 20)))
    out = out or default_out(inputs[0])
    info = save_tokenizer(train_tokenizer(texts, vocab_size, min_frequency), out, [s.name for s in sources],
                          len(texts), n_bytes)
    click.echo(f"tokenizer: {info.vocab_size} tokens from {len(texts):,} documents ({n_bytes:,} bytes) of "
               f"{len(sources)} source(s) -> {out}")


def default_out(url: str) -> str:
    """``{lake}/tokenizer``: a stage folder ``{lake}/{stage}/{run}`` (it holds shards) maps to its lake root."""
    from codeflow.lake import to_fs

    fs, root = to_fs(url)
    base = url.rstrip("/")
    direct = fs.isdir(root) and any(p.endswith(".parquet") for p in fs.ls(root, detail=False))
    return (base.rsplit("/", 2)[0] if direct and base.count("/") >= 2 else base) + "/tokenizer"
