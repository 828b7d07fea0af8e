"""Ingest: arbitrary Parquet/JSONL rows with a text column -> lake documents with stable ids (the id rule of
``codeflow.records``).

The smallest real map stage, and the entry point for data that did not come through our own readers: rows
with null or non-UTF-8 text are rejected with a reason, every other row gets a stable id and provenance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from codeflow.records import DOCUMENT_SCHEMA, REJECT_SCHEMA, ValidatedBatch, row_source, validate_text
from codeflow.stage import Stage, StageResult

META_SKIP = {"id", "text", "content", "source", "url", "language"}


@dataclass(frozen=True)
class IngestConfig:
    text_column: str | None = None
    id_column: str = "id"


class IngestStage(Stage):
    """Validate text and give every row an id; extra columns are kept as a JSON ``metadata`` string."""

    name = "ingest"
    schema = DOCUMENT_SCHEMA

    def process(self, batch: pa.Table, unit: str) -> StageResult:
        valid = validate_text(batch, unit, self.name, self.config.text_column, self.config.id_column)
        valid, rejects = self._drop_bad_string_columns(valid, unit)
        t = valid.table
        col = next((c for c in (self.config.text_column, "text", "content") if c and c in t.column_names), None)
        n = t.num_rows
        rows = valid.rows.to_pylist()
        extra = [c for c in t.column_names if c not in META_SKIP and c != col]
        extras = t.select(extra).to_pylist() if extra else [{}] * n
        kept = pa.table({
            "id": t.column("id"),
            "text": t.column(col) if col else pa.array([], pa.string()),
            "source": pa.array([row_source(unit, r) for r in rows], pa.string()),
            "url": t.column("url") if "url" in t.column_names else pa.nulls(n, pa.string()),
            "language": t.column("language") if "language" in t.column_names else pa.nulls(n, pa.string()),
            "metadata": pa.array([json.dumps(e, sort_keys=True, default=str) if e else None for e in extras],
                                 pa.string()),
        }, schema=DOCUMENT_SCHEMA) if n else DOCUMENT_SCHEMA.empty_table()
        return StageResult(kept, rejects, {"rows_in": valid.rows_in})

    def _drop_bad_string_columns(self, valid: ValidatedBatch, unit: str) -> tuple[ValidatedBatch, pa.Table]:
        """``url`` / ``language`` must be strings: numbers become their text, any other type (a list, a struct,
        bytes) makes that row a ``bad_type`` reject naming the column and its type."""
        t = valid.table
        bad_rows: dict[int, str] = {}
        for name in ("url", "language"):
            if name not in t.column_names:
                continue
            col = t.column(name)
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_null(col.type):
                continue
            if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type):
                t = t.set_column(t.column_names.index(name), name, pc.cast(col, pa.string()))
                continue
            for i, is_valid in enumerate(col.is_valid().to_pylist()):
                if is_valid:
                    bad_rows.setdefault(i, f"{name!r} is {col.type}, not a string")
        if not bad_rows:
            return ValidatedBatch(t, valid.rows, valid.rejects, valid.rows_in), valid.rejects
        rows = valid.rows.to_pylist()
        ids = t.column("id").to_pylist()
        bad = sorted(bad_rows)
        extra = self.reject([ids[i] for i in bad], "bad_type", [bad_rows[i] for i in bad],
                            [row_source(unit, rows[i]) for i in bad])
        keep = pa.array([i not in bad_rows for i in range(t.num_rows)], pa.bool_())
        kept = ValidatedBatch(t.filter(keep), valid.rows.filter(keep), valid.rejects, valid.rows_in)
        return kept, pa.concat_tables([valid.rejects.cast(REJECT_SCHEMA), extra])
