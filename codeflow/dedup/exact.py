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

import posixpath
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from codeflow.records import REJECT_SCHEMA, rejects_table, stable_id

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


def pick_text_column(table: pa.Table, configured: str | None) -> str | None:
    if configured:
        return configured if configured in table.column_names else None
    for name in ("text", "content"):
        if name in table.column_names:
            return name
    return None


@dataclass
class ValidatedBatch:
    """Rows of one unit that have valid text, with their ids; the others are rejects."""

    table: pa.Table            # the valid rows, text column as string, ``id`` column present
    rows: pa.Array             # original row numbers of the valid rows
    rejects: pa.Table          # rejects with reason null_text / decode_error / missing_column
    rows_in: int


def validate(table: pa.Table, cfg: ExactDedupConfig, unit: str, source_name: str) -> ValidatedBatch:
    """Split a unit's rows into valid documents and rejects; give every valid row a stable id."""
    col = pick_text_column(table, cfg.text_column)
    if col is None:
        want = cfg.text_column or "text/content"
        detail = f"no {want!r} column in {table.column_names[:20]}"[:500]
        # One reject per row, so rows_in == kept + rejected holds for this file too.
        rej = rejects_table([{"id": stable_id(f"{source_name}#{row}", prefix="row:"), "stage": STAGE,
                              "reason": "missing_column", "detail": detail, "source": f"{source_name}#{row}"}
                             for row in range(table.num_rows)])
        return ValidatedBatch(pa.table({"id": pa.array([], pa.string())}), pa.array([], pa.int64()), rej,
                              table.num_rows)
    raw = table.column(col).combine_chunks()
    fast = _validate_clean(table, raw, col, cfg)
    if fast is not None:
        return fast
    ids_in = table.column(cfg.id_column).to_pylist() if cfg.id_column in table.column_names else None
    texts: list[str | None] = []
    keep_rows: list[int] = []
    ids: list[str] = []
    rejects: list[dict] = []
    for row, value in enumerate(raw.to_pylist()):
        given = None if ids_in is None or ids_in[row] is None else str(ids_in[row])
        src = f"{source_name}#{row}"
        if value is None:
            rejects.append({"id": given or stable_id(src, prefix="row:"), "stage": STAGE, "reason": "null_text",
                            "detail": f"null {col!r}", "source": src})
            continue
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as e:
                rejects.append({"id": given or stable_id(value, src), "stage": STAGE, "reason": "decode_error",
                                "detail": f"invalid UTF-8 at byte {e.start}", "source": src})
                continue
        if not isinstance(value, str):
            rejects.append({"id": given or stable_id(src, prefix="row:"), "stage": STAGE, "reason": "bad_type",
                            "detail": f"{col!r} is {raw.type}, not a string", "source": src})
            continue
        texts.append(value)
        keep_rows.append(row)
        ids.append(given or stable_id(value, src))
    valid = table.take(pa.array(keep_rows, pa.int64())) if keep_rows else table.slice(0, 0)
    valid = valid.set_column(valid.column_names.index(col), col, pa.array(texts, pa.string()))
    if cfg.id_column in valid.column_names:
        valid = valid.set_column(valid.column_names.index(cfg.id_column), "id", pa.array(ids, pa.string()))
    else:
        valid = valid.add_column(0, "id", pa.array(ids, pa.string()))
    return ValidatedBatch(valid, pa.array(keep_rows, pa.int64()), rejects_table(rejects), table.num_rows)


def _validate_clean(table: pa.Table, raw: pa.Array, col: str, cfg) -> ValidatedBatch | None:
    """The common case without a Python loop: string text and string ids, no nulls. Same result as the loop."""
    if not (pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type)) or raw.null_count:
        return None
    if cfg.id_column not in table.column_names:
        return None
    ids = table.column(cfg.id_column).combine_chunks()
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)) or ids.null_count:
        return None
    valid = table.set_column(table.column_names.index(col), col, raw.cast(pa.string()))
    valid = valid.set_column(valid.column_names.index(cfg.id_column), "id", ids.cast(pa.string()))
    return ValidatedBatch(valid, pa.array(np.arange(table.num_rows, dtype=np.int64)), rejects_table([]),
                          table.num_rows)


def keys_for(batch: ValidatedBatch, cfg: ExactDedupConfig, unit_index: int) -> pa.Table:
    col = pick_text_column(batch.table, cfg.text_column)
    if col is None or batch.table.num_rows == 0:
        return KEYS_SCHEMA.empty_table()
    norm = normalize_text(batch.table.column(col).combine_chunks(), cfg.normalize)
    hashes = [content_hash(t) for t in norm.to_pylist()]
    n = len(hashes)
    return pa.table({"hash": pa.array(hashes, pa.string()), "id": batch.table.column("id").combine_chunks(),
                     "unit": pa.array([unit_index] * n, pa.int32()), "row": batch.rows}, schema=KEYS_SCHEMA)


def apply_decisions(batch: ValidatedBatch, decisions: pa.Table, source_name: str,
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
                    "detail": f"keeper={drop[r][0]} group_size={drop[r][1]}", "source": f"{source_name}#{r}"}
                   for i, r in enumerate(rows) if r in drop]
    rejects = pa.concat_tables([batch.rejects.cast(REJECT_SCHEMA), rejects_table(dup_rejects)])
    stats = Counter({"rows_in": batch.rows_in})
    return kept, rejects, stats


def source_name_for(unit: str, root: str) -> str:
    """Unit path relative to the common input root: ids stay the same when the data moves folders."""
    try:
        rel = posixpath.relpath(unit, root) if root else posixpath.basename(unit)
    except ValueError:
        rel = posixpath.basename(unit)
    return rel if rel != "." else posixpath.basename(unit)
