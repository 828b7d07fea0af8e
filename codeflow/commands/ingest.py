"""``codeflow ingest``: bring your own Parquet/JSONL text into the lake as documents with stable ids."""

from __future__ import annotations

import click

from codeflow.commands.common import engine_options


@click.command()
@click.option("--input", "inputs", multiple=True, required=True, help="Parquet/JSONL file, folder or glob.")
@click.option("--out", required=True, help="Output folder or fsspec URL.")
@click.option("--text-column", default=None, help="Column with the text (default: 'text', else 'content').")
@engine_options
def ingest(inputs: tuple[str, ...], out: str, text_column: str | None, engine: str, workers: int,
           overwrite: bool) -> None:
    """Validate text (null / non-UTF-8 rows are rejected) and write document shards."""
    from codeflow.ingest import IngestConfig, IngestStage
    from codeflow.runner import run_map_stage
    from codeflow.sources import TableSource, expand_inputs
    from codeflow.ui import print_summary

    units = expand_inputs(list(inputs))
    stage = IngestStage(IngestConfig(text_column=text_column))
    print_summary([run_map_stage(stage, TableSource(), units, out, engine, workers, overwrite)])
