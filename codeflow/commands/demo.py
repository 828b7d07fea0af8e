"""``codeflow demo``: run every landed stage on the bundled sample data and print one summary table."""

from __future__ import annotations

import click

from codeflow.commands.common import engine_available


@click.command()
@click.option("--lake", default="./lake", show_default=True, help="Lake root (folder or fsspec URL).")
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
              callback=engine_available)
@click.option("--fresh", is_flag=True, help="Delete the demo's outputs first (otherwise a re-run resumes).")
def demo(lake: str, engine: str, fresh: bool) -> None:
    """Run the corpus build on bundled sample data."""
    from codeflow.demo import DEMO_STEPS
    from codeflow.lake import StageOutput, safe_remove, to_fs
    from codeflow.ui import console, print_summary

    lake = lake.rstrip("/")
    if fresh:
        safe_remove(lake)  # only a lake the demo (or another codeflow run) wrote, never a folder of yours
    StageOutput(lake).claim("demo")
    summaries = []
    for name, step in DEMO_STEPS:
        console.print(f"[bold cyan]demo:[/] {name}")
        summaries.extend(step(lake, engine))
    print_summary(summaries)
    fs, root = to_fs(lake)
    reports = sorted(p for p in fs.find(root) if p.endswith(".html") and "/_work/" not in p) if fs.exists(root) else []
    if reports:
        click.echo("\nHTML reports (open in a browser):")
        for p in reports:
            click.echo(f"  {p}")
    click.echo(f"\noutput: {lake}  (read it with pyarrow, duckdb, polars: e.g. "
               f"duckdb -c \"select * from '{lake}/dedup_exact/sample_docs/*.parquet' limit 5\")")
