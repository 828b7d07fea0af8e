"""``codeflow schema``: print the documented schema of a record kind."""

from __future__ import annotations

import click


@click.command()
@click.argument("kind", type=click.Choice(["document", "code_file", "reject"]))
def schema(kind: str) -> None:
    """Show the fields of a record kind with their documentation."""
    from codeflow import records

    sch = {"document": records.DOCUMENT_SCHEMA, "code_file": records.CODE_FILE_SCHEMA,
           "reject": records.REJECT_SCHEMA}[kind]
    for f in sch:
        click.echo(f"{f.name:<14} {str(f.type):<12} {records.field_docs(sch)[f.name]}")
