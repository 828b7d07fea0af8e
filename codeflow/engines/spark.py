"""The cluster engine: units as Spark tasks (``mapInArrow``), global phases in Spark SQL.

Each intermediate table is a temp view over a ``localCheckpoint``, so the lineage of an iterative phase
(connected components) does not grow with the number of rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from codeflow.engines import Engine, EngineError


def hadoop_path(url: str) -> str:
    """fsspec URL -> a path Spark's Hadoop filesystem understands (s3:// is s3a:// there)."""
    if url.startswith("s3://"):
        return "s3a://" + url[len("s3://"):]
    return url


class SparkDialect:
    def __init__(self, spark) -> None:
        self.spark = spark
        self.frames: dict[str, Any] = {}
        self.views: list[str] = []

    def register_parquet(self, name: str, folder_url: str) -> None:
        self.spark.read.parquet(hadoop_path(folder_url)).createOrReplaceTempView(name)
        self.views.append(name)

    def materialize(self, name: str, query: str) -> None:
        df = self.spark.sql(query).localCheckpoint(eager=True)
        df.createOrReplaceTempView(name)
        self.frames[name] = df

    def scalar(self, query: str) -> int:
        return int(self.spark.sql(query).collect()[0][0])

    def row(self, query: str) -> tuple:
        return tuple(self.spark.sql(query).collect()[0])

    def rename(self, old: str, new: str) -> None:
        df = self.frames.pop(old)
        self.spark.catalog.dropTempView(old)
        df.createOrReplaceTempView(new)
        self.frames[new] = df

    def drop(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)
        df = self.frames.pop(name, None)
        if df is not None:
            df.unpersist()

    def write_partitioned(self, query: str, folder_url: str, partition_by: str) -> None:
        self.spark.sql(query).write.mode("overwrite").partitionBy(partition_by).parquet(hadoop_path(folder_url))

    def ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def agree(self, x: str, y: str, k: int) -> str:
        return f"aggregate(zip_with({x}, {y}, (p, q) -> IF(p = q, 1L, 0L)), 0L, (acc, v) -> acc + v)"

    def dot(self, x: str, y: str, k: int) -> str:
        return f"aggregate(zip_with({x}, {y}, (p, q) -> p * q), 0L, (acc, v) -> acc + v)"

    def close(self) -> None:
        for name in list(self.frames):
            self.drop(name)
        for name in self.views:
            self.spark.catalog.dropTempView(name)


class SparkEngine(Engine):
    """``--engine spark``: the active Spark master (``local[*]`` unless run under spark-submit)."""

    name = "spark"

    @classmethod
    def unavailable(cls) -> str | None:
        import importlib.util

        from codeflow.pipelines import SPARK_EXTRA

        return SPARK_EXTRA if importlib.util.find_spec("pyspark") is None else None

    @classmethod
    def run_command(cls, argv: list[str], master: str = "") -> tuple[int, str]:
        """``spark-submit`` of the command line against ``master`` (a scheduler's task drives a cluster)."""
        from codeflow.pipelines.spark.submit import submit_stage

        if not master:
            raise EngineError("engine=spark needs a master URL (spark://host:port)")
        proc = submit_stage(master, argv)
        print(proc.stdout, end="")  # the summary table, into the caller's log
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
        return proc.returncode, lines[-1] if lines else proc.stderr[-2000:]

    def map_units(self, job: Callable[[int], Any], n: int, *, logs: str | None = None) -> None:
        from codeflow.pipelines.spark.executor import run_units_spark

        run_units_spark(job, n)

    @contextmanager
    def sql(self, out_url: str, memory_limit: str = "2GB") -> Iterator[SparkDialect]:
        from codeflow.pipelines.spark.session import get_spark

        db = SparkDialect(get_spark())  # memory is the cluster's business (executor settings), not ours
        try:
            yield db
        finally:
            db.close()
