"""``codeflow benchmarks list``: the registered decontamination benchmarks with item counts."""

from __future__ import annotations

import click


@click.group()
def benchmarks() -> None:
    """Benchmarks that `codeflow decontaminate` matches against."""


@benchmarks.command("list")
@click.option("--benchmark", "user_specs", multiple=True, metavar="NAME=PATH.jsonl:FIELD,...",
              help="Also check and count a user file (as decontaminate --benchmark reads it).")
def list_benchmarks(user_specs: tuple[str, ...]) -> None:
    """Name, item count, matched fields, licence and description of each benchmark."""
    from rich.console import Console
    from rich.table import Table

    from codeflow.decontam.benchmarks import NOT_BUNDLED, REGISTRY, load_items, parse_user_benchmark

    table = Table(title="decontamination benchmarks")
    for col in ("name", "items", "fields (kind)", "licence", "description"):
        table.add_column(col, overflow="fold")
    for b in [*REGISTRY.values(), *(parse_user_benchmark(s) for s in user_specs)]:
        table.add_row(b.name, str(len(load_items(b))), ", ".join(f"{f} ({k})" for f, k in b.fields), b.license,
                      b.description)
    for name, why in NOT_BUNDLED.items():
        table.add_row(name, "-", "-", "-", f"not bundled: {why}")
    Console(width=160).print(table)  # stdout: the listing is the command's output
