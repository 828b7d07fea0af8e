"""Run codeflow units as Spark tasks with ``mapInArrow``.

Units are rows of a small DataFrame of indices; each Spark task runs the same ``job(index)`` the local engine
runs, which reads its input and commits its shard straight to the lake (an fsspec URL every executor can
reach: a shared folder or an object store). Shards are therefore byte-identical across engines, and the
lake's markers make a re-submitted job resume.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from codeflow.pipelines.spark.session import get_spark


def run_units_spark(job: Callable[[int], Any], n_units: int, master: str | None = None) -> None:
    if n_units == 0:
        return
    spark = get_spark(master)
    parallelism = spark.sparkContext.defaultParallelism
    df = spark.range(0, n_units, numPartitions=max(1, min(n_units, parallelism * 4)))

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        done = []
        for batch in batches:
            for index in batch.column("id").to_pylist():
                job(int(index))
                done.append(int(index))
        yield pa.RecordBatch.from_pydict({"unit": pa.array(done, pa.int64())})

    finished = df.mapInArrow(run, "unit long").collect()
    if len(finished) != n_units:
        raise RuntimeError(f"spark ran {len(finished)} of {n_units} units")
