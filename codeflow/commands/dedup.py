"""``codeflow dedup``: exact, MinHash near-duplicate, or semantic dedup of documents or code files."""

from __future__ import annotations

import os

import click

from codeflow.commands.common import engine_options


def _size(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from codeflow.engines import check_memory_limit
    from codeflow.errors import CodeflowError

    try:
        return check_memory_limit(value)
    except CodeflowError:
        raise click.BadParameter(f"{value!r} is not a size; e.g. 512MB, 2GB, 1.5GiB") from None


def _mode(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """--exact, --minhash and --semantic are one choice: giving two is an error, not 'the last one wins'."""
    if value:
        chosen = ctx.meta.setdefault("codeflow.dedup_modes", [])
        chosen.append(param.name)
        if len(chosen) > 1:
            raise click.UsageError(f"give one of --exact, --minhash, --semantic (got --{' --'.join(chosen)})")
    return value


def _encoder(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Check the encoder spec before any work (workers load it later, where an error would be a traceback)."""
    if value == "hashing" or value.startswith("hashing:"):
        dim = value.split(":", 1)[1] if ":" in value else "256"
        if not dim.isdigit() or int(dim) < 1:
            raise click.BadParameter(f"hashing dimension must be a positive integer, got {dim!r}")
        return value
    if os.path.isdir(value):
        return value
    from codeflow.dedup.semantic import EncoderError, load_encoder

    try:
        load_encoder(value)
    except EncoderError as e:
        raise click.BadParameter(str(e).splitlines()[0]) from None
    return value


@click.command()
@click.option("--exact", "exact", is_flag=True, callback=_mode, help="Exact dedup on normalized content (default).")
@click.option("--minhash", "minhash", is_flag=True, callback=_mode,
              help="Near-duplicate dedup: MinHash LSH, verified pairs, connected components.")
@click.option("--semantic", "semantic", is_flag=True, callback=_mode,
              help="Semantic dedup: embeddings (--encoder), hyperplane LSH, cosine >= --threshold.")
@click.option("--input", "inputs", multiple=True, required=True,
              help="Parquet/JSONL file, folder or glob; repeatable.")
@click.option("--out", required=True, help="Output folder or fsspec URL (e.g. ./lake/dedup/run1, s3://...).")
@click.option("--text-column", default=None, help="Column with the text (default: 'text', else 'content').")
@click.option("--normalize", type=click.Choice(["none", "whitespace", "lower"]), default="whitespace",
              show_default=True, help="[exact] Normalization before hashing.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0, min_open=True), default=None,
              help="[minhash] Jaccard similarity of duplicates (default 0.8); [semantic] cosine (default 0.9).")
@click.option("--ngram", type=click.IntRange(min=1), default=5, show_default=True,
              help="[minhash] Shingle size in tokens.")
@click.option("--bands", type=click.IntRange(min=1), default=None,
              help="[minhash] LSH bands (default 14); [semantic] default 16.")
@click.option("--rows", type=click.IntRange(min=1), default=8, show_default=True,
              help="Rows (hashes, or sign bits) per band.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the permutations / hyperplanes.")
@click.option("--tokenizer", type=click.Choice(["auto", "words", "code"]), default="auto", show_default=True,
              help="[minhash] words (prose), code (identifiers + punctuation), auto: code for a 'content' column.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="[minhash] Keep a candidate pair only if its estimated Jaccard reaches --threshold.")
@click.option("--encoder", default="hashing", show_default=True, callback=_encoder,
              help="[semantic] 'hashing[:DIM]', a local sentence-transformers model folder, or module:attr.")
@click.option("--score-column", default="quality_score", show_default=True,
              help="Keeper rule, first key: highest value of this column wins (if present).")
@click.option("--stars-column", default="stars", show_default=True,
              help="Keeper rule, second key: highest value wins (if present); then smallest id.")
@click.option("--memory-limit", default="2GB", show_default=True, callback=_size,
              help="duckdb memory budget of the local clustering step (it spills to disk beyond it).")
@engine_options
def dedup(exact: bool, minhash: bool, semantic: bool, inputs: tuple[str, ...], out: str, text_column: str | None,
          normalize: str, threshold: float | None, ngram: int, bands: int | None, rows: int, seed: int, tokenizer: str,
          verify: bool, encoder: str, score_column: str, stars_column: str, memory_limit: str, engine: str,
          workers: int, overwrite: bool) -> None:
    """Remove duplicates; removed rows go to OUT/rejects with the keeper's id and the group size."""
    from codeflow.sources import expand_inputs
    from codeflow.ui import print_summary

    mode = "minhash" if minhash else "semantic" if semantic else "exact"
    units = expand_inputs(list(inputs))
    if mode == "exact":
        from codeflow.dedup.exact import ExactDedupConfig
        from codeflow.dedup.exact_run import run_exact_dedup

        cfg = ExactDedupConfig(text_column=text_column, normalize=normalize, memory_limit=memory_limit)
        summary = run_exact_dedup(units, out, cfg, engine=engine, workers=workers, overwrite=overwrite)
    else:
        from codeflow.dedup.minhash import MinHashConfig
        from codeflow.dedup.minhash_run import run_near_dedup
        from codeflow.dedup.semantic import SemanticConfig

        common = dict(text_column=text_column, rows=rows, seed=seed, score_column=score_column,
                      stars_column=stars_column, memory_limit=memory_limit)
        if mode == "minhash":
            near = MinHashConfig(ngram=ngram, bands=bands or 14, threshold=threshold or 0.8, verify=verify,
                                 tokenizer=tokenizer, **common)
        else:
            near = SemanticConfig(encoder=encoder, bands=bands or 16, threshold=threshold or 0.9, **common)
        summary = run_near_dedup(units, out, near, engine=engine, workers=workers, overwrite=overwrite)
        print_summary([summary])
        click.echo(f"report: {out.rstrip('/')}/_report.html")
        return
    print_summary([summary])
