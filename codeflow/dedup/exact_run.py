"""Exact dedup end to end: keys per unit, keeper selection globally, filter per unit.

Every phase is resumable: per-unit key files and the decisions folder are committed atomically, and the
final shards use the lake's markers like any map stage.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from codeflow.dedup.exact import (
    KEYS_SCHEMA,
    STAGE,
    ExactDedupConfig,
    ValidatedBatch,
    apply_decisions,
    keys_for,
    source_name_for,
    validate,
)
from codeflow.lake import LakeError, StageOutput, atomic_write_bytes, atomic_write_parquet
from codeflow.lease import leased
from codeflow.records import REJECT_SCHEMA
from codeflow.runner import RunSummary, finish, map_units
from codeflow.sources import TableSource
from codeflow.stage import StageResult, config_hash
from codeflow.ui import now


def _load(unit: str, cfg: ExactDedupConfig, root: str) -> ValidatedBatch:
    """Read and validate one unit; an unreadable file becomes a single reject."""
    src = TableSource()
    src.stage_name = STAGE
    name = source_name_for(unit, root)
    read_rejects: list[pa.Table] = []
    batch = ValidatedBatch(pa.table({"id": pa.array([], pa.string())}), pa.array([], pa.int64()),
                           REJECT_SCHEMA.empty_table(), 0)
    for item in src.read(unit):
        if isinstance(item, StageResult):  # rows the reader rejected (bad lines, invalid UTF-8, unreadable file)
            read_rejects.append(item.rejects)
        else:
            batch = validate(item, cfg, unit, name)
    if not read_rejects:
        return batch
    n = sum(t.num_rows for t in read_rejects)
    rejects = pa.concat_tables([*read_rejects, batch.rejects.cast(REJECT_SCHEMA)])
    return ValidatedBatch(batch.table, batch.rows, rejects, batch.rows_in + n)


@dataclass(frozen=True)
class KeysJob:
    cfg: ExactDedupConfig
    out_url: str
    units: tuple[str, ...]
    root: str

    def __call__(self, index: int) -> None:
        out = StageOutput(self.out_url)
        path = out.work_path("keys", f"part-{index:05d}.parquet")
        if out.fs.exists(path):
            return
        batch = _load(self.units[index], self.cfg, self.root)
        atomic_write_parquet(out.fs, path, keys_for(batch, self.cfg, index))


@dataclass(frozen=True)
class FilterJob:
    cfg: ExactDedupConfig
    out_url: str
    units: tuple[str, ...]
    root: str
    stage: str = STAGE
    reason: str = "exact_duplicate"

    def __call__(self, index: int) -> None:
        out = StageOutput(self.out_url)
        if out.is_committed(index):
            return
        unit = self.units[index]
        batch = _load(unit, self.cfg, self.root)
        decisions = read_decisions(out, index)
        kept, rejects, stats = apply_decisions(batch, decisions, source_name_for(unit, self.root),
                                               self.stage, self.reason)
        out.commit_shard(index, kept, rejects.cast(REJECT_SCHEMA), stats, unit,
                         config_hash(self.stage, self.cfg))


def read_decisions(out: StageOutput, index: int) -> pa.Table:
    folder = out.work_path("decisions", f"unit={index}")
    if not (out.fs.exists(out.work_path("decisions.done")) or out.fs.exists(out.work_path("decisions"))):
        # Scratch gone (deleted by hand or by another writer): never read that as "no duplicates".
        raise LakeError(f"{out.url}: dedup scratch {out.work_path('decisions')} is missing; re-run to rebuild it")
    if not out.fs.exists(folder):  # this unit has no duplicates
        return pa.table({"row": pa.array([], pa.int64()), "keeper_id": pa.array([], pa.string()),
                         "group_size": pa.array([], pa.int64())})
    parts = []
    for p in sorted(out.fs.find(folder)):
        if p.endswith(".parquet") and not posixpath.basename(p).startswith((".", "_")):
            with out.fs.open(p, "rb") as f:
                parts.append(pq.read_table(f, columns=["row", "id", "keeper_id", "group_size"]))
    table = pa.concat_tables(parts) if parts else pa.table({"row": pa.array([], pa.int64())})
    return table.sort_by("row")


def common_root(units: list[str]) -> str:
    dirs = [posixpath.dirname(u) for u in units]
    return posixpath.commonpath(dirs) if all(d.startswith("/") for d in dirs) else posixpath.commonprefix(dirs)


@leased()
def run_exact_dedup(units: list[str], out_url: str, cfg: ExactDedupConfig | None = None, engine: str = "local",
                    workers: int = 1, overwrite: bool = False) -> RunSummary:
    cfg = cfg or ExactDedupConfig()
    t0 = now()
    out = StageOutput(out_url)
    if overwrite:
        out.clear()
    chash = config_hash(STAGE, cfg)
    out.check_config(chash, units)
    resumed = out.count_committed()
    root = common_root(units)
    n = len(units)
    keys_dir = out.work_path("keys")
    keys_job = KeysJob(cfg, out_url, tuple(units), root)
    map_units(keys_job, n, engine, workers, out, "dedup keys",
              count_done=lambda: len(out.fs.glob(posixpath.join(keys_dir, "part-*.parquet"))))
    decisions_dir = out.work_path("decisions")
    done_flag = out.work_path("decisions.done")
    if not out.fs.exists(done_flag):
        if out.fs.exists(decisions_dir):
            out.fs.rm(decisions_dir, recursive=True)
        if engine == "spark":
            from codeflow.pipelines.spark.dedup import group_spark

            dropped = group_spark(keys_dir, decisions_dir)
        else:
            from codeflow.dedup.grouping import group_local

            dropped = group_local(out, posixpath.join(keys_dir, "part-*.parquet"), decisions_dir, cfg.memory_limit)
        atomic_write_bytes(out.fs, done_flag, json.dumps({"dropped": dropped}).encode())
    filter_job = FilterJob(cfg, out_url, tuple(units), root)
    map_units(filter_job, n, engine, workers, out, "dedup filter")
    schema = _first_schema(out) or KEYS_SCHEMA
    return finish(STAGE, out, n, schema, cfg, t0, resumed)


def _first_schema(out: StageOutput) -> pa.Schema | None:
    for m in out.committed_markers():
        if m["kept"]:
            with out.fs.open(out.kept_path(m["index"]), "rb") as f:
                return pq.read_schema(f)
    return None
