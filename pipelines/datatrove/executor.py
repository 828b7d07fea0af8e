"""Run codeflow units as datatrove tasks on ``LocalPipelineExecutor`` (the embedded default engine).

Each datatrove rank runs the units ``i`` with ``i % world_size == rank``. Resume is decided by the lake's
per-shard markers, not by datatrove's ``completions/`` files, so a shard deleted by hand is recomputed and
the Spark engine sees the same state; datatrove's logs still land in ``logging_dir`` for debugging.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from loguru import logger


class UnitStep(PipelineStep):
    """A datatrove step that runs a picklable ``job(unit_index)`` for this rank's share of the units."""

    name = "codeflow units"
    type = "🌊 CODEFLOW"

    def __init__(self, job: Callable[[int], Any], n_units: int) -> None:
        super().__init__()
        self.job = job
        self.n_units = n_units

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        logger.disable("datatrove")
        for index in range(rank, self.n_units, world_size):
            with self.track_time():
                self.job(index)
            self.stat_update("units")
        if data:
            yield from data


class QuietLocalExecutor(LocalPipelineExecutor):
    """LocalPipelineExecutor whose task loggers write INFO to the log files only, unless asked otherwise.

    datatrove prints a pipeline banner per task to stderr, which tears our progress bar; the log files in
    ``logging_dir`` still get everything. ``CODEFLOW_LOG_LEVEL=INFO`` (``--log-level INFO``) restores it.
    """

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        import datatrove.executor.base as base

        if os.environ.get("CODEFLOW_LOG_LEVEL", "WARNING").upper() not in ("DEBUG", "INFO"):
            original = getattr(base.add_task_logger, "__wrapped__", base.add_task_logger)

            @functools.wraps(original)
            def quiet(logging_dir, rank, local_rank=0, node_rank=-1):
                return original(logging_dir, rank, max(local_rank, 1), node_rank)

            base.add_task_logger = quiet
        return super()._run_for_rank(rank, local_rank, node_rank)


def run_units_local(job: Callable[[int], Any], n_units: int, workers: int, logging_dir: str) -> None:
    """Run ``job`` over ``n_units`` units with ``workers`` processes (one process runs in-line)."""
    if n_units == 0:
        return
    tasks = n_units
    executor = QuietLocalExecutor(pipeline=[UnitStep(job, n_units)], tasks=tasks,
                                     workers=max(1, min(workers, tasks)), logging_dir=logging_dir,
                                     skip_completed=False)
    logger.disable("datatrove")
    executor.run()
