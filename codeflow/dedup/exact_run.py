"""Exact dedup as a phased plan: keys per unit, keeper selection globally (SQL), filter per unit.

The runner (``codeflow.runner.run_plan``) does fan-out, resume, scratch stamping and the commits; this module
only says what each phase computes. ``DedupStage`` is shared with near dedup (``minhash_run``): the same input
validation, the same decisions format, the same filter.
"""

from __future__ import annotations

import posixpath

import pyarrow as pa
import pyarrow.parquet as pq

from codeflow.dedup.exact import (
    KEYS_SCHEMA,
    STAGE,
    ExactDedupConfig,
    ValidatedBatch,
    apply_decisions,
    keys_for,
)
from codeflow.engines import Engine, check_memory_limit
from codeflow.lake import LakeError, atomic_write_json, to_fs
from codeflow.plan import CommitPhase, GlobalContext, GlobalPhase, MapPhase, Output, Plan, UnitContext
from codeflow.records import REJECT_SCHEMA, validate_text
from codeflow.runner import RunSummary, run_plan
from codeflow.sources import TableSource
from codeflow.stage import PhasedStage, StageResult

# Keeper = smallest (id, unit, row) per hash; every other row becomes a decision. Same SQL on every engine.
KEEPER_SQL = """
SELECT unit, {row}, id, keeper_id, group_size FROM (
  SELECT unit, {row}, id,
         first_value(id) OVER w AS keeper_id,
         row_number() OVER w AS rn,
         count(*) OVER (PARTITION BY hash) AS group_size
  FROM keys
  WINDOW w AS (PARTITION BY hash ORDER BY id, unit, {row})
) t WHERE rn > 1
"""
DECISIONS = "decisions"
# Written into the decisions folder once the global phase has finished (with or without duplicates): a folder
# without it is scratch that was never completed or was deleted, never "no duplicates".
DECISIONS_DONE = "_decisions.json"


class DedupStage(PhasedStage):
    """What exact and near dedup share: reading and validating a unit, and the filter (commit) phase."""

    reason: str = "exact_duplicate"
    fallback_schema: pa.Schema = KEYS_SCHEMA

    def load(self, unit: str) -> ValidatedBatch:
        """Read and validate one unit; what the reader rejected (an unreadable file, bad JSONL lines, invalid
        UTF-8) joins the validation's rejects and counts as input rows."""
        src = TableSource()
        src.stage_name = self.name
        read_rejects: list[pa.Table] = []
        batch = ValidatedBatch(pa.table({"id": pa.array([], pa.string())}), pa.array([], pa.int64()),
                               REJECT_SCHEMA.empty_table(), 0)
        for item in src.read(unit):
            if isinstance(item, StageResult):
                read_rejects.append(item.rejects)
            else:
                batch = validate_text(item, unit, self.name, self.config.text_column, self.config.id_column)
        if not read_rejects:
            return batch
        n = sum(t.num_rows for t in read_rejects)
        rejects = pa.concat_tables([*(t.cast(REJECT_SCHEMA) for t in read_rejects), batch.rejects.cast(REJECT_SCHEMA)])
        return ValidatedBatch(batch.table, batch.rows, rejects, batch.rows_in + n)

    def filter(self, ctx: UnitContext) -> StageResult:
        """Commit phase: drop the rows the global phase decided on; they become rejects naming their keeper."""
        batch = self.load(ctx.unit)
        decisions = read_decisions(ctx.scratch(DECISIONS), ctx.index)
        kept, rejects, stats = apply_decisions(batch, decisions, ctx.unit, self.name, self.reason)
        return StageResult(kept, rejects, stats)


class ExactDedup(DedupStage):
    name = STAGE

    def keys(self, ctx: UnitContext) -> dict[str, pa.Table]:
        return {"keys": keys_for(self.load(ctx.unit), self.config, ctx.index)}

    def group(self, ctx: GlobalContext) -> dict[str, int]:
        decisions = ctx.fresh_scratch(DECISIONS)
        with ctx.sql(self.config.memory_limit) as db:
            db.register_parquet("keys", ctx.scratch("keys"))
            row = db.ident("row")
            db.materialize(DECISIONS, KEEPER_SQL.format(row=row))
            dropped = db.scalar(f"SELECT count(*) FROM {DECISIONS}")
            if dropped:
                db.write_partitioned(f"SELECT unit, {row}, id, keeper_id, group_size FROM {DECISIONS}", decisions,
                                     "unit")
        return mark_decisions_done(decisions, {"dropped": dropped})

    def plan(self) -> Plan:
        check_memory_limit(self.config.memory_limit)  # a usage error now, not after the first phase
        return Plan(self.name, self.config,
                    (MapPhase("keys", self.keys), GlobalPhase("group", self.group), CommitPhase(self.filter)),
                    (Output("", KEYS_SCHEMA, schema_from_shards=True),))


def mark_decisions_done(decisions_url: str, stats: dict[str, int]) -> dict[str, int]:
    """Record that the decisions under ``decisions_url`` are complete; returns ``stats``."""
    fs, folder = to_fs(decisions_url)
    atomic_write_json(fs, posixpath.join(folder, DECISIONS_DONE), stats)
    return stats


def read_decisions(decisions_url: str, index: int) -> pa.Table:
    """Unit ``index``'s decisions (``row, id, keeper_id, group_size``) from the hive-partitioned folder.

    Missing scratch (deleted by hand, or a global phase that never finished) is an error: read as "no
    duplicates", it would silently keep every duplicate.
    """
    fs, root = to_fs(decisions_url)
    if not fs.exists(posixpath.join(root, DECISIONS_DONE)):
        raise LakeError(f"dedup scratch {decisions_url} is missing or incomplete; re-run to rebuild it")
    folder = posixpath.join(root, f"unit={index}")
    if not fs.exists(folder):  # this unit has no duplicates
        return pa.table({"row": pa.array([], pa.int64()), "keeper_id": pa.array([], pa.string()),
                         "group_size": pa.array([], pa.int64())})
    parts = []
    for p in sorted(fs.find(folder)):
        if p.endswith(".parquet") and not posixpath.basename(p).startswith((".", "_")):
            with fs.open(p, "rb") as f:
                parts.append(pq.read_table(f, columns=["row", "id", "keeper_id", "group_size"]))
    table = pa.concat_tables(parts) if parts else pa.table({"row": pa.array([], pa.int64())})
    return table.sort_by("row")


def run_exact_dedup(units: list[str], out_url: str, cfg: ExactDedupConfig | None = None,
                    engine: str | Engine = "local", workers: int = 1, overwrite: bool = False) -> RunSummary:
    """Exact dedup of ``units`` (Parquet/JSONL files) into ``out_url``; resumes a killed run."""
    stage = ExactDedup(cfg or ExactDedupConfig())
    return run_plan(stage.plan(), units, out_url, engine, workers, overwrite)[0]
