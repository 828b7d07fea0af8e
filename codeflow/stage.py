"""The stage contract: a pure core that engines only move data for.

A stage is a frozen config dataclass plus ``process(batch) -> StageResult`` over Arrow tables. It imports no
engine. Work is cut into *units* (an input Parquet file, a WARC file, a repository): the unit is what a
datatrove task or a Spark task runs, and what a shard in the lake corresponds to, so resume, determinism and
accounting are all per unit and identical on every engine.

``read_unit`` is the whole work of a map stage on one unit (read through a ``Source``, process every batch);
``codeflow.runner`` runs it as the commit phase of a one-phase plan. Stages with several phases or outputs are
``PhasedStage``s that return a ``codeflow.plan.Plan``. Engines live in ``codeflow.engines``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from codeflow.lake import StageOutput
from codeflow.records import REJECT_SCHEMA, rejects_table


@dataclass
class StageResult:
    """What a stage core returns for one batch: kept rows, rejects with reasons, and counters."""

    kept: pa.Table
    rejects: pa.Table
    stats: Counter = field(default_factory=Counter)

    @classmethod
    def merge(cls, parts: list[StageResult], schema: pa.Schema) -> StageResult:
        kept_parts = [p.kept for p in parts if p.kept.num_columns]  # a reader's rejects carry an empty table
        kept = pa.concat_tables(kept_parts) if kept_parts else schema.empty_table()
        rejects = (pa.concat_tables([p.rejects.cast(REJECT_SCHEMA) for p in parts]) if parts
                   else REJECT_SCHEMA.empty_table())
        stats: Counter = Counter()
        for p in parts:
            stats.update(p.stats)
        return cls(kept, rejects, stats)


def config_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config or {})


def config_hash(stage_name: str, config: Any) -> str:
    """Hash of the stage name and its config: shards written under another hash are not resumed into."""
    blob = json.dumps({"stage": stage_name, "config": config_dict(config)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Source(ABC):
    """Turns a unit (a path, a repo line) into input batches; bad input becomes rejects, not exceptions."""

    @abstractmethod
    def read(self, unit: str) -> Iterator[pa.Table | StageResult]:
        """Yield input tables, or ``StageResult``s holding rejects for input that could not be read."""


class StageBase:
    """What every stage has: a name (labels its rejects, markers and manifest) and a frozen config."""

    name: ClassVar[str]

    def __init__(self, config: Any) -> None:
        self.config = config

    @property
    def config_hash(self) -> str:
        return config_hash(self.name, self.config)

    def side_inputs(self) -> tuple:
        """``codeflow.plan.SideInput``s the stage reads (a model, a benchmark index); none by default."""
        return ()

    def reject(self, ids: Sequence[str], reason: str | Sequence[str], detail: str | Sequence[str | None] | None,
               source: str | Sequence[str | None] | None = None) -> pa.Table:
        """Reject records labelled with this stage: one row per id; a single reason/detail/source applies to all."""
        n = len(ids)

        def column(value) -> list:
            return list(value) if isinstance(value, (list, tuple)) else [value] * n

        return rejects_table([{"id": i, "stage": self.name, "reason": r, "detail": d, "source": s}
                              for i, r, d, s in zip(ids, column(reason), column(detail), column(source),
                                                    strict=True)])


class Stage(StageBase, ABC):
    """A map stage: every input batch is processed on its own, so any engine can run units in parallel.

    Subclasses set ``name`` and ``schema`` (the kept-row schema) and implement ``process``. Invariant for
    1:1 stages: rows in == kept + rejected. Stages that expand records (a repo into triplets) count their
    inputs and outputs under separate stats keys instead.
    """

    schema: ClassVar[pa.Schema]

    @abstractmethod
    def process(self, batch: pa.Table, unit: str) -> StageResult:
        """Process one batch read from ``unit``; pure, deterministic, never raises on bad records."""


class PhasedStage(StageBase, ABC):
    """A stage with more than one phase (dedup: keys, a global step, filter) or several outputs (clean-cc).

    ``plan()`` returns its ``codeflow.plan.Plan``; ``codeflow.runner.run_plan`` runs it on any engine.
    """

    @abstractmethod
    def plan(self):
        """The stage's phases, outputs and side inputs (a ``codeflow.plan.Plan``)."""


def read_unit(stage: Stage, source: Source, unit: str) -> StageResult:
    """Read ``unit`` through ``source`` and process every batch: the whole work of a map stage on one unit."""
    parts: list[StageResult] = []
    for item in source.read(unit):
        parts.append(item if isinstance(item, StageResult) else stage.process(item, unit))
    return StageResult.merge(parts, stage.schema)


def run_unit(stage: Stage, source: Source, out: StageOutput, index: int, unit: str) -> dict:
    """Process one unit end to end and commit its shard; a committed shard is skipped (resume)."""
    if out.is_committed(index):
        return out.read_marker(index)
    result = read_unit(stage, source, unit)
    kept = result.kept if result.kept.num_rows or result.kept.schema == stage.schema else stage.schema.empty_table()
    return out.commit_shard(index, kept, result.rejects, result.stats, unit, stage.config_hash)


@dataclass(frozen=True)
class MapUnitJob:
    """A picklable job for the engines: run ``stage`` over unit ``index`` of ``units`` into ``out_url``."""

    stage: Stage
    source: Source
    out_url: str
    units: tuple[str, ...]

    def __call__(self, index: int) -> None:
        run_unit(self.stage, self.source, StageOutput(self.out_url), index, self.units[index])
