"""Run stages on an engine: unit fan-out, resume, aggregation of shard stats, and the run-level commit.

``map_units`` is the only place that knows about engines; stage code never does. ``run_map_stage`` is what a
CLI command calls for a map stage; multi-phase stages (dedup) call ``map_units`` per phase.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from codeflow.lake import StageOutput
from codeflow.stage import MapUnitJob, Source, Stage, config_dict
from codeflow.ui import now, run_with_progress

ENGINES = ("local", "spark")


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


def map_units(job, n_units: int, engine: str, workers: int, out: StageOutput, label: str,
              count_done=None) -> None:
    """Run ``job(i)`` for every unit on the chosen engine, with a progress bar fed from the lake."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    from codeflow.lease import refuse_process_local

    refuse_process_local(out.url, engine, workers)
    count_done = count_done or out.count_committed

    def work() -> None:
        if engine == "local":
            from codeflow.pipelines.datatrove.executor import run_units_local

            run_units_local(job, n_units, workers, logging_dir=out.work_path("datatrove", label.replace(" ", "_")))
        else:
            from codeflow.pipelines.spark.executor import run_units_spark

            run_units_spark(job, n_units)

    run_with_progress(label, n_units, work, count_done)


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
           resumed: int) -> RunSummary:
    markers = out.committed_markers()  # read once: a large run has one marker file per shard
    stats, reasons, kept, rejected = aggregate(markers)
    rows_in = rows_in_of(markers)
    totals = {"stage": stage_name, "rows_in": rows_in, "kept": kept, "rejected": rejected,
              "rejected_by_reason": dict(sorted(reasons.items())), "counters": dict(sorted(stats.items()))}
    out.finalize(stage_name, n_units, schema, config_dict(config), totals, markers)
    return RunSummary(stage=stage_name, out=out.url, rows_in=rows_in, kept=kept, rejected=rejected,
                      reasons=dict(reasons), shards_new=n_units - resumed, shards_resumed=resumed,
                      elapsed_s=now() - t0, stats=dict(stats))


def run_map_stage(stage: Stage, source: Source, units: list[str], out_url: str, engine: str = "local",
                  workers: int = 1, overwrite: bool = False) -> RunSummary:
    """Run a map stage over ``units`` into ``out_url``; re-running resumes from committed shards."""
    from codeflow.lease import hold

    t0 = now()
    with hold(out_url):  # one writer per output (re-entrant: the CLI usually holds it already)
        out = StageOutput(out_url)
        if overwrite:
            out.clear()
        out.check_config(stage.config_hash, units)
        resumed = out.count_committed()
        job = MapUnitJob(stage, source, out_url, tuple(units))
        map_units(job, len(units), engine, workers, out, stage.name)
        return finish(stage.name, out, len(units), stage.schema, stage.config, t0, resumed)
