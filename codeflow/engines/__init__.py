"""Engines as objects: what a stage's plan needs from whatever runs it, and nothing more.

An engine offers two things:

* ``map_units(job, n, logs=...)`` -- call the picklable ``job(i)`` for every unit ``i`` in ``range(n)``, in
  parallel, wherever the engine runs Python (datatrove worker processes, Spark tasks). The job reads its unit
  and commits its own files to the lake, so the engine moves no data and shards are identical on every engine.
* ``sql(out, memory_limit)`` -- a context manager giving a ``Dialect``: the global phases of a plan (dedup's
  keeper selection, clustering) are SQL statements that duckdb runs on one machine and Spark SQL on a cluster.

Stage code receives an engine object and calls only these; it never imports Spark nor tests an engine's name.
A new engine (Ray, Dask) is one new module here plus one line in ``ENGINES``.
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol

from codeflow.errors import CodeflowError

# name -> "module:class", imported lazily so the local engine never imports pyspark.
ENGINES: dict[str, str] = {
    "local": "codeflow.engines.local:LocalEngine",
    "spark": "codeflow.engines.spark:SparkEngine",
}


class Dialect(Protocol):
    """SQL over scratch tables, the same statements on every engine; only a few expressions differ."""

    def register_parquet(self, name: str, folder_url: str) -> None:
        """Expose the ``part-*.parquet`` files under ``folder_url`` as table/view ``name``."""

    def materialize(self, name: str, query: str) -> None:
        """Run ``query`` and keep its result as table ``name`` (spilling to disk where the engine can)."""

    def scalar(self, query: str) -> int: ...

    def row(self, query: str) -> tuple: ...

    def drop(self, name: str) -> None: ...

    def rename(self, old: str, new: str) -> None: ...

    def write_partitioned(self, query: str, folder_url: str, partition_by: str) -> None:
        """Write ``query``'s rows as Parquet under ``folder_url`` in hive partitions ``{partition_by}=V/``."""

    def ident(self, name: str) -> str:
        """``name`` quoted as an identifier (``row`` is a keyword in one dialect and not the other)."""

    def agree(self, x: str, y: str, k: int) -> str:
        """SQL for the number of positions where arrays ``x`` and ``y`` (length ``k``) are equal."""

    def dot(self, x: str, y: str, k: int) -> str:
        """SQL for the integer dot product of arrays ``x`` and ``y``."""


class Engine(ABC):
    """Runs units and SQL. Instances are cheap; a session (Spark) is created on first use."""

    name: ClassVar[str]

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))

    @classmethod
    def unavailable(cls) -> str | None:
        """Why this engine cannot run here (an optional dependency is missing), or None."""
        return None

    @property
    def in_process(self) -> bool:
        """Units run in this very process, so a process-local filesystem (``memory://``) is shared with them."""
        return False

    @classmethod
    def run_command(cls, argv: list[str], master: str = "") -> tuple[int, str]:
        """Run a whole ``codeflow`` command line on this engine, as a scheduler does (``codeflow.orchestrate``):
        here, in this process. Returns the exit code and where its error is to be read."""
        from codeflow.cli import main

        return main(argv), "its error line is above"

    @abstractmethod
    def map_units(self, job: Callable[[int], Any], n: int, *, logs: str | None = None) -> None:
        """Call ``job(i)`` for ``i`` in ``range(n)``; ``logs``: a folder for the engine's own task logs."""

    @abstractmethod
    def sql(self, out_url: str, memory_limit: str = "2GB") -> AbstractContextManager[Dialect]:
        """A SQL dialect for one global phase; ``out_url`` is the run's output (scratch space beside it)."""


class EngineError(CodeflowError):
    """An unknown engine name (a usage error)."""


def engine_class(name: str) -> type[Engine]:
    target = ENGINES.get(name)
    if target is None:
        raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def get_engine(engine: str | Engine, workers: int = 1) -> Engine:
    """The engine object for a name (``local``, ``spark``), or ``engine`` itself when it already is one."""
    if isinstance(engine, Engine):
        return engine
    return engine_class(engine)(workers=workers)


def check_available(name: str) -> None:
    """``EngineError`` (a usage error) when engine ``name`` is unknown or its optional extra is not installed."""
    problem = engine_class(name).unavailable()
    if problem:
        raise EngineError(problem)


def sql_string(value: str) -> str:
    """``value`` as a SQL string literal (quotes doubled): paths with a quote in them stay one literal."""
    return "'" + str(value).replace("'", "''") + "'"



_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def check_memory_limit(value: str) -> str:
    """A duckdb memory size such as ``2GB`` or ``512MiB``; anything else is a usage error."""
    if not _MEMORY.match(value or ""):
        raise CodeflowError(f"invalid memory limit {value!r}: use a size like 2GB or 512MiB")
    return value.strip()
