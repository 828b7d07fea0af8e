"""Phased plans: what a stage declares so the one runner (``codeflow.runner.run_plan``) can run it anywhere.

A plan is a list of phases over the run's units, ending with the phase that commits shards:

* ``MapPhase(name, fn)`` -- per unit: ``fn(ctx: UnitContext) -> {table: pa.Table}``. The tables are the
  phase's *scratch* (``_work/{table}/part-N.parquet``); a per-unit marker written after them makes the unit
  count as done for that phase, so a killed run redoes only the missing units.
* ``GlobalPhase(name, fn)`` -- once, over every unit's scratch: ``fn(ctx: GlobalContext) -> {counter: int}``,
  usually SQL through ``ctx.sql()`` (duckdb or Spark SQL, the engine decides) or plain Python. Its result is
  recorded, so a re-run skips it.
* ``CommitPhase(fn)`` (last) -- per unit: ``fn(ctx) -> StageResult`` for one output, or ``{output: StageResult}``
  when the plan declares several ``Output``s (clean-cc: ``documents/`` and ``code_blocks/``).

``SideInput(name, url)``: a file or folder built once per run (a model, a benchmark index) that phases read
through ``ctx.side_input(name)``. Its content hash is part of the run's identity (``Plan.identity``): shards and
scratch written with another model are never resumed into. Every engine reaches it by URL (a shared folder or
the object store the lake lives on), so nothing is broadcast through the driver.

Scratch is stamped (``_work/_stamp.json``: identity + input list); scratch under another stamp is removed, never
reused. The functions in a plan must be picklable (module-level functions or methods of a picklable stage):
the engines ship them to worker processes and executors.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from codeflow.lake import StageOutput, to_fs
from codeflow.stage import StageResult, config_hash


@dataclass(frozen=True)
class SideInput:
    """A file or folder every unit may read; its content (not its path) is part of the run's identity."""

    name: str
    url: str

    def content_hash(self) -> str:
        """sha256 over the bytes (a folder: every file, by sorted relative path), 16 hex chars."""
        fs, root = to_fs(self.url)
        h = hashlib.sha256()
        files = sorted(fs.find(root)) if fs.isdir(root) else [root]
        if not files or not fs.exists(files[0]):
            from codeflow.errors import CodeflowError

            raise CodeflowError(f"side input {self.name!r} not found: {self.url}")
        for path in files:
            rel = posixpath.relpath(path, root) if path != root else ""
            h.update(rel.encode() + b"\0")
            with fs.open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            h.update(b"\0")
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class Output:
    """One named record kind a plan commits. ``name`` is a sub-folder of the run ("" = the run folder).

    ``schema``: the kept-row schema for the manifest; with ``schema_from_shards`` the schema of the first
    non-empty shard is used instead (dedup keeps whatever columns its input had), ``schema`` being the fallback.
    """

    name: str = ""
    schema: pa.Schema | None = None
    schema_from_shards: bool = False


@dataclass(frozen=True)
class MapPhase:
    name: str
    fn: Callable[[UnitContext], Mapping[str, pa.Table]]


@dataclass(frozen=True)
class GlobalPhase:
    name: str
    fn: Callable[[GlobalContext], Mapping[str, int]]


@dataclass(frozen=True)
class CommitPhase:
    fn: Callable[[UnitContext], StageResult | Mapping[str, StageResult]]
    name: str = "commit"


Phase = MapPhase | GlobalPhase | CommitPhase


@dataclass(frozen=True)
class Plan:
    """A stage's phases, outputs and side inputs; ``name`` labels rejects, markers and the manifest."""

    name: str
    config: Any
    phases: tuple[Phase, ...]
    outputs: tuple[Output, ...] = (Output(),)
    side_inputs: tuple[SideInput, ...] = ()

    def __post_init__(self) -> None:
        if not self.phases or not isinstance(self.phases[-1], CommitPhase):
            raise ValueError("a plan ends with its CommitPhase")
        if any(isinstance(p, CommitPhase) for p in self.phases[:-1]):
            raise ValueError("a plan has exactly one CommitPhase, the last")
        if not self.outputs or len({o.name for o in self.outputs}) != len(self.outputs):
            raise ValueError("a plan needs at least one output, with distinct names")

    def identity(self, side_hashes: Mapping[str, str] | None = None) -> str:
        """The run identity: config hash, plus the side inputs' content hashes when there are any."""
        base = config_hash(self.name, self.config)
        if not self.side_inputs:
            return base
        hashes = side_hashes if side_hashes is not None else {s.name: s.content_hash() for s in self.side_inputs}
        blob = json.dumps({"config": base, "side_inputs": dict(sorted(hashes.items()))}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunInfo:
    """What every phase of one run sees; small and picklable (it travels with each job)."""

    out_url: str
    units: tuple[str, ...]
    identity: str
    side: Mapping[str, str] = field(default_factory=dict)

    @property
    def root(self) -> StageOutput:
        return StageOutput(self.out_url)

    def scratch(self, *parts: str) -> str:
        """URL of a scratch folder or file under ``_work`` (removed when the run commits)."""
        return posixpath.join(self.out_url.rstrip("/"), "_work", *parts)

    def side_input(self, name: str) -> str:
        """URL of side input ``name``; the engines reach it by URL."""
        try:
            return self.side[name]
        except KeyError:
            raise KeyError(f"no side input {name!r} in this plan (have: {', '.join(self.side) or 'none'})") from None


@dataclass(frozen=True)
class UnitContext:
    """A per-unit phase's view: which unit, and the run's scratch and side inputs."""

    info: RunInfo
    index: int

    @property
    def unit(self) -> str:
        return self.info.units[self.index]

    def scratch_table(self, table: str) -> pa.Table:
        """This unit's scratch ``table`` written by an earlier map phase."""
        fs, path = to_fs(self.info.scratch(table, scratch_name(self.index)))
        with fs.open(path, "rb") as f:
            return pq.read_table(f)

    def scratch(self, *parts: str) -> str:
        return self.info.scratch(*parts)

    def side_input(self, name: str) -> str:
        return self.info.side_input(name)


@dataclass
class GlobalContext:
    """A global phase's view: every unit's scratch, and the engine's SQL dialect."""

    info: RunInfo
    engine: Any  # codeflow.engines.Engine

    @property
    def n_units(self) -> int:
        return len(self.info.units)

    def scratch(self, *parts: str) -> str:
        return self.info.scratch(*parts)

    def fresh_scratch(self, name: str) -> str:
        """An empty scratch folder (what a killed earlier attempt of this phase left there is removed)."""
        url = self.info.scratch(name)
        fs, path = to_fs(url)
        if fs.exists(path):
            fs.rm(path, recursive=True)
        return url

    def sql(self, memory_limit: str = "2GB"):
        """The engine's SQL dialect as a context manager (duckdb locally, Spark SQL on a cluster)."""
        return self.engine.sql(self.info.out_url, memory_limit)

    def side_input(self, name: str) -> str:
        return self.info.side_input(name)


def scratch_name(index: int) -> str:
    return f"part-{index:05d}.parquet"
