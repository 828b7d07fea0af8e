"""Exact dedup core: normalize text, hash it, and pick one keeper per hash group.

Three phases, so no engine ever holds the corpus in one process:

1. ``keys`` (per unit): validate the text column, compute ``(hash, id, unit, row)`` per row.
2. ``group`` (global): per hash, the keeper is the row with the smallest ``(id, unit, row)``; every other row
   becomes a decision ``(unit, row, id, keeper_id, group_size)``. Run by duckdb locally (spills to disk, so
   memory is bounded) or by Spark SQL on a cluster; both write decisions partitioned by unit.
3. ``filter`` (per unit): drop the decided rows, write kept rows and rejects as the unit's shard.

Keeper rule: smallest id, then unit and row order. Ids are stable hashes, so the keeper is the same on every
engine and re-run, whatever order the rows arrive in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from codeflow.records import (
    REJECT_SCHEMA,
    ValidatedBatch,
    pick_text_column,
    rejects_table,
    row_source,
    validate_text,
)

__all__ = ["KEYS_SCHEMA", "STAGE", "ExactDedupConfig", "ValidatedBatch", "apply_decisions", "content_hash",
           "keys_for", "normalize_text", "pick_text_column", "validate_text"]

STAGE = "dedup_exact"
KEYS_SCHEMA = pa.schema([("hash", pa.string()), ("id", pa.string()), ("unit", pa.int32()), ("row", pa.int64())])
DECISION_COLUMNS = ("row", "id", "keeper_id", "group_size")


@dataclass(frozen=True)
class ExactDedupConfig:
    """Which column holds the text and how it is normalized before hashing.

    ``normalize``: ``none`` hashes raw bytes; ``whitespace`` (default) unifies line endings, drops trailing
    whitespace on every line and at both ends, since those differences never change meaning for prose or
    code; ``lower`` also case-folds (prose only: it merges distinct code).
    """

    text_column: str | None = None
    id_column: str = "id"
    normalize: str = "whitespace"
    memory_limit: str = "2GB"


def normalize_text(texts: pa.Array, mode: str) -> pa.Array:
    if mode == "none":
        return texts
    if mode not in ("whitespace", "lower"):
        raise ValueError(f"unknown normalize mode {mode!r}")
    out = pc.replace_substring(texts, "\r\n", "\n")
    out = pc.replace_substring_regex(out, r"[ \t\f\v\r]+\n", "\n")
    out = pc.utf8_trim_whitespace(out)
    if mode == "lower":
        out = pc.utf8_lower(out)
    return out


def content_hash(text: str) -> str:
    return xxhash.xxh3_128_hexdigest(text.encode("utf-8"))


def keys_for(batch: ValidatedBatch, cfg: ExactDedupConfig, unit_index: int) -> pa.Table:
    col = pick_text_column(batch.table, cfg.text_column)
    if col is None or batch.table.num_rows == 0:
        return KEYS_SCHEMA.empty_table()
    norm = normalize_text(batch.table.column(col).combine_chunks(), cfg.normalize)
    hashes = [content_hash(t) for t in norm.to_pylist()]
    n = len(hashes)
    return pa.table({"hash": pa.array(hashes, pa.string()), "id": batch.table.column("id").combine_chunks(),
                     "unit": pa.array([unit_index] * n, pa.int32()), "row": batch.rows}, schema=KEYS_SCHEMA)


def apply_decisions(batch: ValidatedBatch, decisions: pa.Table, unit: str,
                    stage: str = STAGE, reason: str = "exact_duplicate") -> tuple[pa.Table, pa.Table, Counter]:
    """Kept rows and rejects for one unit, given the rows the global phase decided to drop."""
    drop = dict(zip(decisions.column("row").to_pylist(),
                    zip(decisions.column("keeper_id").to_pylist(), decisions.column("group_size").to_pylist(),
                        strict=True),
                    strict=True)) if decisions.num_rows else {}
    rows = batch.rows.to_pylist()
    keep_mask = pa.array([r not in drop for r in rows], pa.bool_())
    kept = batch.table.filter(keep_mask) if rows else batch.table
    ids = batch.table.column("id").to_pylist() if rows else []
    dup_rejects = [{"id": ids[i], "stage": stage, "reason": reason,
                    "detail": f"keeper={drop[r][0]} group_size={drop[r][1]}", "source": row_source(unit, r)}
                   for i, r in enumerate(rows) if r in drop]
    rejects = pa.concat_tables([batch.rejects.cast(REJECT_SCHEMA), rejects_table(dup_rejects)])
    stats = Counter({"rows_in": batch.rows_in})
    return kept, rejects, stats
