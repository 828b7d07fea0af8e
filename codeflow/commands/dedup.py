"""``codeflow dedup``: exact (and, when it lands, MinHash) dedup of documents or code files."""

from __future__ import annotations

import click

from codeflow.commands.common import engine_options


@click.command()
@click.option("--exact", "mode", flag_value="exact", default=True, help="Exact dedup on normalized content.")
@click.option("--input", "inputs", multiple=True, required=True,
              help="Parquet/JSONL file, folder or glob; repeatable.")
@click.option("--out", required=True, help="Output folder or fsspec URL (e.g. ./lake/dedup/run1, s3://...).")
@click.option("--text-column", default=None, help="Column with the text (default: 'text', else 'content').")
@click.option("--normalize", type=click.Choice(["none", "whitespace", "lower"]), default="whitespace",
              show_default=True, help="Normalization before hashing.")
@engine_options
def dedup(mode: str, inputs: tuple[str, ...], out: str, text_column: str | None, normalize: str, engine: str,
          workers: int, overwrite: bool) -> None:
    """Remove duplicates; removed rows go to OUT/rejects with the keeper's id."""
    from codeflow.dedup.exact import ExactDedupConfig
    from codeflow.dedup.exact_run import run_exact_dedup
    from codeflow.sources import expand_inputs
    from codeflow.ui import print_summary

    units = expand_inputs(list(inputs))
    cfg = ExactDedupConfig(text_column=text_column, normalize=normalize)
    summary = run_exact_dedup(units, out, cfg, engine=engine, workers=workers, overwrite=overwrite)
    print_summary([summary])
