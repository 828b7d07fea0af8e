"""``codeflow schema``: print the documented schema of a record kind."""

from __future__ import annotations

import click


def _schemas() -> dict:
    """Every ``*_SCHEMA`` in records.py, by kind name (``CODE_FILE_SCHEMA`` -> ``code_file``)."""
    from codeflow import records

    return {name[: -len("_SCHEMA")].lower(): value for name, value in vars(records).items()
            if name.endswith("_SCHEMA") and not name.startswith("_")}


class _Kinds(click.ParamType):
    name = "kind"

    def convert(self, value, param, ctx):
        kinds = _schemas()
        if value not in kinds:
            self.fail(f"unknown kind {value!r}; choose from {', '.join(sorted(kinds))}", param, ctx)
        return value


@click.command()
@click.argument("kind", type=_Kinds())
def schema(kind: str) -> None:
    """Show the fields of a record KIND (document, code_file, reject, ...) with their documentation."""
    from codeflow.records import field_docs

    sch = _schemas()[kind]
    docs = field_docs(sch)
    for f in sch:
        click.echo(f"{f.name:<18} {str(f.type):<28} {docs[f.name]}")
