"""The one run machinery: every stage's plan runs here, on any engine.

``run_plan`` executes a ``codeflow.plan.Plan``: it guards and claims the output folder, checks that committed
shards belong to this run (identity + input list), stamps the scratch, fans each phase out to the engine
(``Engine.map_units`` / ``Engine.sql``), draws progress from the lake, retries transient I/O per unit, and
writes ``_stats.json``, ``_manifest.json`` and -- only once every unit of every output has committed --
``_SUCCESS``. ``run_map_stage`` is the common case: a ``Stage`` + ``Source`` as a one-phase plan.

Failure model: a unit whose job raises ``OSError`` (object-store throttling, a network blip, a flaky disk) is
retried ``CODEFLOW_IO_RETRIES`` times (default 3) with exponential backoff from ``CODEFLOW_IO_BACKOFF``
seconds (default 1); if it still fails it stays uncommitted, the other units go on, and the run ends with
``UnitsFailed`` (exit 1). A re-run retries exactly those units. Any other exception is a bug: it propagates.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from codeflow.engines import ENGINES, Engine, get_engine
from codeflow.errors import CodeflowError
from codeflow.lake import StageOutput, atomic_write_bytes, atomic_write_json, to_fs
from codeflow.lease import hold, refuse_process_local
from codeflow.plan import (
    CommitPhase,
    GlobalContext,
    GlobalPhase,
    MapPhase,
    Output,
    Plan,
    RunInfo,
    SideInput,
    UnitContext,
    scratch_name,
)
from codeflow.stage import Source, Stage, StageResult, config_dict, read_unit
from codeflow.ui import now, run_with_progress

__all__ = ["ENGINES", "RunSummary", "UnitsFailed", "run_map_stage", "run_plan", "map_plan"]


class UnitsFailed(CodeflowError):
    """Some units failed on transient I/O after every retry; they are uncommitted and a re-run retries them.
    Not a usage error: the CLI exits 1."""

    exit_code = 1


@dataclass
class RunSummary:
    """One row of the summary table; also returned to Python callers."""

    stage: str
    out: str
    rows_in: int = 0
    kept: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    shards_new: int = 0
    shards_resumed: int = 0
    elapsed_s: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)


# ---- per-unit jobs (picklable: the engines ship them to workers) --------------------------------------------
def _io_retries() -> tuple[int, float]:
    return int(os.environ.get("CODEFLOW_IO_RETRIES", "3")), float(os.environ.get("CODEFLOW_IO_BACKOFF", "1.0"))


@dataclass(frozen=True)
class GuardedJob:
    """Runs ``job(index)``, retrying transient I/O (``OSError``) with backoff; a unit that keeps failing is
    recorded under ``_work/_failed/`` and left uncommitted instead of stopping the other units."""

    job: Any
    info: RunInfo
    retries: int
    backoff: float

    def __call__(self, index: int) -> None:
        error: OSError | None = None
        for attempt in range(self.retries + 1):
            try:
                self.job(index)
                return
            except OSError as e:  # transient I/O by contract: bad input became a reject inside the job
                error = e
                if attempt < self.retries:
                    time.sleep(self.backoff * (2 ** attempt))
        fs, path = to_fs(self.info.scratch("_failed", f"part-{index:05d}.json"))
        atomic_write_json(fs, path, {"index": index, "unit": self.info.units[index],
                                     "error": f"{type(error).__name__}: {error}"[:500],
                                     "attempts": self.retries + 1})


@dataclass(frozen=True)
class ScratchJob:
    """One unit of a ``MapPhase``: its tables into ``_work/{table}/``, then the unit's phase marker."""

    phase: MapPhase
    info: RunInfo

    def __call__(self, index: int) -> None:
        fs, marker = to_fs(self.info.scratch("_done", self.phase.name, f"part-{index:05d}.json"))
        if fs.exists(marker):
            return
        tables = self.phase.fn(UnitContext(self.info, index))
        for name, table in tables.items():
            write_scratch(self.info.scratch(name, scratch_name(index)), table)
        atomic_write_json(fs, marker, {"index": index, "identity": self.info.identity})


@dataclass(frozen=True)
class CommitJob:
    """The last phase for one unit: commit a shard per output; the first output's marker is written last, so
    it is what makes the unit count as done."""

    phase: CommitPhase
    info: RunInfo
    stage_name: str
    outputs: tuple[Output, ...]

    def __call__(self, index: int) -> None:
        outs = [output_of(self.info.out_url, o) for o in self.outputs]
        if outs[0].is_committed(index):
            return
        result = self.phase.fn(UnitContext(self.info, index))
        results = result if isinstance(result, Mapping) else {self.outputs[0].name: result}
        for o, out in reversed(list(zip(self.outputs, outs, strict=True))):
            r = results[o.name]
            kept = r.kept
            if o.schema is not None and not o.schema_from_shards and kept.schema != o.schema and not kept.num_rows:
                kept = o.schema.empty_table()
            out.commit_shard(index, kept, r.rejects, r.stats, self.info.units[index], self.info.identity)


def write_scratch(url: str, table: pa.Table) -> None:
    """Scratch Parquet for the global phases: random 64-bit values do not compress or dictionary-encode, so
    trying (the lake's shard settings) only costs CPU; lz4 keeps ids and small columns cheap."""
    import io

    buf = io.BytesIO()
    pq.write_table(table, buf, compression="lz4", use_dictionary=["id"] if "id" in table.column_names else False,
                   row_group_size=64 * 1024)
    fs, path = to_fs(url)
    atomic_write_bytes(fs, path, buf.getvalue())


def output_of(out_url: str, output: Output) -> StageOutput:
    return StageOutput(posixpath.join(out_url.rstrip("/"), output.name) if output.name else out_url)


# ---- the run --------------------------------------------------------------------------------------------------
def _absolute(url: str) -> str:
    """Local paths become absolute, so worker processes agree on them whatever their working directory."""
    return url if "://" in url else os.path.abspath(url)


# ``_work/side/``: side inputs a stage builds for its run (a benchmark index), named by their content hash, so
# they can never be stale; they survive a scratch reset and go with ``_work`` at the final commit.
SIDE_DIR = "side"


def _stamp_scratch(info: RunInfo) -> None:
    """Scratch of another identity or input list (a killed run under another config) is removed, never reused."""
    root = info.root
    units_hash = hashlib.sha256(json.dumps(list(info.units)).encode()).hexdigest()[:16]
    stamp = {"identity": info.identity, "units_sha256_16": units_hash, "n_units": len(info.units),
             "side_inputs": dict(sorted(info.side.items()))}
    path = root.work_path("_stamp.json")
    if root.fs.exists(path):
        with root.fs.open(path, "rb") as f:
            if json.load(f) == stamp:
                return
    if root.fs.exists(root.work_path()):
        for entry in root.fs.ls(root.work_path(), detail=False):
            if posixpath.basename(entry.rstrip("/")) != SIDE_DIR:
                root.fs.rm(entry, recursive=True)
    atomic_write_json(root.fs, path, stamp)


def _phase_label(plan: Plan, phase) -> str:
    return f"{plan.name} {phase.name}" if len(plan.phases) > 1 else plan.name


def _count(fs, folder: str, suffix: str) -> int:
    if not fs.exists(folder):
        return 0
    return sum(1 for p in fs.ls(folder, detail=False)
               if p.endswith(suffix) and not posixpath.basename(p).startswith(".tmp-"))


def _raise_failures(info: RunInfo, label: str) -> None:
    fs, folder = to_fs(info.scratch("_failed"))
    if not fs.exists(folder):
        return
    failed = []
    for p in sorted(fs.ls(folder, detail=False)):
        if p.endswith(".json") and not posixpath.basename(p).startswith(".tmp-"):
            with fs.open(p, "rb") as f:
                failed.append(json.load(f))
    if failed:
        first = failed[0]
        raise UnitsFailed(f"{label}: {len(failed)} of {len(info.units)} units failed after "
                          f"{first['attempts']} attempts (first: unit {first['index']} {first['unit']!r}: "
                          f"{first['error']}); committed units are kept, re-run to retry the others")


def _map(engine: Engine, job, info: RunInfo, label: str, count_done) -> None:
    fs, failed = to_fs(info.scratch("_failed"))
    if fs.exists(failed):
        fs.rm(failed, recursive=True)
    retries, backoff = _io_retries()
    guarded = GuardedJob(job, info, retries, backoff)
    logs = info.scratch("logs", label.replace(" ", "_").replace(":", "_"))
    run_with_progress(label, len(info.units), lambda: engine.map_units(guarded, len(info.units), logs=logs),
                      count_done)
    _raise_failures(info, label)


def run_plan(plan: Plan, units: Sequence[str], out_url: str, engine: str | Engine = "local", workers: int = 1,
             overwrite: bool = False) -> list[RunSummary]:
    """Run ``plan`` over ``units`` into ``out_url``; returns one summary per output (in declared order).

    Re-running resumes: committed shards are skipped, finished phases are not redone, and scratch is reused
    only under the same identity and input list. The run holds the output's lease (``codeflow.lease``) and
    refuses a process-local filesystem the engine's workers could not share.
    """
    eng = get_engine(engine, workers)
    out_url = _absolute(out_url)
    refuse_process_local([out_url, *units], eng)
    with hold(out_url):  # one writer per output (re-entrant: the CLI usually holds it already)
        return _run_plan(plan, tuple(units), out_url, eng, overwrite)


def _run_plan(plan: Plan, units: tuple[str, ...], out_url: str, eng: Engine, overwrite: bool) -> list[RunSummary]:
    t0 = now()
    root = StageOutput(out_url)
    if overwrite:
        root.clear()
    side_hashes = {s.name: s.content_hash() for s in plan.side_inputs}
    identity = plan.identity(side_hashes)
    info = RunInfo(out_url, units, identity, {s.name: _absolute(s.url) for s in plan.side_inputs})
    root.claim(plan.name)
    outs = [output_of(out_url, o) for o in plan.outputs]
    for out in outs:
        out.claim(plan.name)
        out.check_config(identity, list(units))
    resumed = outs[0].count_committed()
    n = len(units)
    phase_stats = _run_phases(plan, info, eng, all_committed=resumed == n and all(
        not o.missing_units(n) for o in outs))
    commit = plan.phases[-1]
    _map(eng, CommitJob(commit, info, plan.name, plan.outputs), info, _phase_label(plan, commit),
         outs[0].count_committed)
    extra = {"side_inputs": {s.name: {"url": info.side[s.name], "sha256_16": side_hashes[s.name]}
                             for s in plan.side_inputs}} if plan.side_inputs else None
    summaries = [finish(plan.name if not o.name or len(plan.outputs) == 1 else f"{plan.name}:{o.name}", out, n,
                        _schema_of(o, out), plan.config, t0, resumed, extra=extra)
                 for o, out in zip(plan.outputs, outs, strict=True)]
    for s in summaries:
        s.stats.update({f"{phase}_{k}": v for phase, st in phase_stats.items() for k, v in st.items()})
    if root.fs.exists(root.work_path()):
        root.fs.rm(root.work_path(), recursive=True)
    return summaries


def _run_phases(plan: Plan, info: RunInfo, eng: Engine, all_committed: bool) -> dict[str, dict[str, int]]:
    """Every phase before the commit; results of global phases are kept in ``_phases.json`` beside the shards,
    so a run whose shards are all committed skips straight to the end and still reports them."""
    root = info.root
    record_path = root.path("_phases.json")
    record: dict[str, Any] = {}
    if root.fs.exists(record_path):
        with root.fs.open(record_path, "rb") as f:
            record = json.load(f)
        if record.get("identity") != info.identity:
            record = {}
    stats: dict[str, dict[str, int]] = record.get("phases", {})
    if all_committed:
        return stats
    _stamp_scratch(info)
    for phase in plan.phases[:-1]:
        label = _phase_label(plan, phase)
        if isinstance(phase, MapPhase):
            fs, folder = to_fs(info.scratch("_done", phase.name))
            _map(eng, ScratchJob(phase, info), info, label, lambda fs=fs, folder=folder: _count(fs, folder, ".json"))
        elif isinstance(phase, GlobalPhase):
            fs, done = to_fs(info.scratch(f"{phase.name}.done.json"))
            if fs.exists(done):
                with fs.open(done, "rb") as f:
                    stats[phase.name] = json.load(f)
                continue
            result = dict(phase.fn(GlobalContext(info, eng))) if info.units else {}
            atomic_write_json(fs, done, result)
            stats[phase.name] = result
            atomic_write_json(root.fs, record_path, {"identity": info.identity, "phases": stats})
        else:  # pragma: no cover - Plan.__post_init__ rules this out
            raise TypeError(f"unknown phase {phase!r}")
    return stats


def _schema_of(output: Output, out: StageOutput) -> pa.Schema:
    if output.schema_from_shards:
        for m in out.committed_markers():
            if m["kept"]:
                with out.fs.open(out.kept_path(m["index"]), "rb") as f:
                    return pq.read_schema(f)
    return output.schema if output.schema is not None else pa.schema([])


def aggregate(markers: list[dict]) -> tuple[Counter, Counter, int, int]:
    """Sum the per-shard stats and reject reasons from the commit markers."""
    stats: Counter = Counter()
    reasons: Counter = Counter()
    kept = rejected = 0
    for m in markers:
        stats.update(m["stats"])
        reasons.update(m.get("reasons", {}))
        kept += m["kept"]
        rejected += m["rejected"]
    return stats, reasons, kept, rejected


def rows_in_of(markers: list[dict]) -> int:
    """Input rows over all shards: a stage's own ``rows_in`` plus the rows its reader rejected
    (``input_rejects``); a shard of a stage that counts no ``rows_in`` has kept + rejected."""
    total = 0
    for m in markers:
        st = m["stats"]
        total += int(st["rows_in"]) + int(st.get("input_rejects", 0)) if "rows_in" in st else m["kept"] + m["rejected"]
    return total


def finish(stage_name: str, out: StageOutput, n_units: int, schema, config: Any, t0: float,
           resumed: int, extra: Mapping[str, Any] | None = None) -> RunSummary:
    """Aggregate the shard markers and write the run-level files; refuses (``LakeError``) while any unit of
    ``range(n_units)`` is uncommitted, so ``_SUCCESS`` always means complete."""
    markers = out.committed_markers()  # read once: a large run has one marker file per shard
    stats, reasons, kept, rejected = aggregate(markers)
    rows_in = rows_in_of(markers)
    totals = {"stage": stage_name, "rows_in": rows_in, "kept": kept, "rejected": rejected,
              "rejected_by_reason": dict(sorted(reasons.items())), "counters": dict(sorted(stats.items()))}
    out.finalize(stage_name, n_units, schema, config_dict(config), totals, markers, extra=extra)
    return RunSummary(stage=stage_name, out=out.url, rows_in=rows_in, kept=kept, rejected=rejected,
                      reasons=dict(reasons), shards_new=n_units - resumed, shards_resumed=resumed,
                      elapsed_s=now() - t0, stats=dict(stats))


# ---- map stages ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MapStageCommit:
    """The commit phase of a map stage: read the unit through the source, process every batch."""

    stage: Stage
    source: Source

    def __call__(self, ctx: UnitContext) -> StageResult:
        return read_unit(self.stage, self.source, ctx.unit)


def map_plan(stage: Stage, source: Source, side_inputs: Sequence[SideInput] = ()) -> Plan:
    """A ``Stage`` + ``Source`` as a one-phase plan (what ``run_map_stage`` runs)."""
    sides = tuple(side_inputs) or tuple(stage.side_inputs())
    return Plan(stage.name, stage.config, (CommitPhase(MapStageCommit(stage, source)),),
                (Output("", stage.schema),), sides)


def run_map_stage(stage: Stage, source: Source, units: list[str], out_url: str, engine: str | Engine = "local",
                  workers: int = 1, overwrite: bool = False, side_inputs: Sequence[SideInput] = ()) -> RunSummary:
    """Run a map stage over ``units`` into ``out_url``; re-running resumes from committed shards.

    ``side_inputs``: files every unit reads (a model, a benchmark index); their content hashes join the run's
    identity, and ``stage.side_inputs()`` may declare them instead.
    """
    return run_plan(map_plan(stage, source, side_inputs), units, out_url, engine, workers, overwrite)[0]
