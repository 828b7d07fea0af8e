"""The clustering SQL of ``codeflow.dedup.components`` on Spark SQL: large-star/small-star, no GraphFrames.

Each intermediate table is a temp view over a ``localCheckpoint`` so the lineage of the iteration does not
grow with the number of rounds (Spark would otherwise re-plan every earlier round each time).
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from codeflow.dedup.components import cluster
from codeflow.pipelines.spark.dedup import hadoop_path
from codeflow.pipelines.spark.session import get_spark


class SparkDialect:
    def __init__(self, spark) -> None:
        self.spark = spark
        self.frames: dict[str, DataFrame] = {}

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

    def agree(self, x: str, y: str, k: int) -> str:
        return f"aggregate(zip_with({x}, {y}, (p, q) -> IF(p = q, 1L, 0L)), 0L, (acc, v) -> acc + v)"

    def dot(self, x: str, y: str, k: int) -> str:
        return f"aggregate(zip_with({x}, {y}, (p, q) -> p * q), 0L, (acc, v) -> acc + v)"


def cluster_spark(bands_dir: str, docs_dir: str, decisions_dir: str, *, verify: str | None, need: int,
                  k: int) -> dict[str, int]:
    """Cluster on the active Spark session and write decisions partitioned by unit; returns counters."""
    spark = get_spark()
    spark.read.parquet(hadoop_path(bands_dir)).createOrReplaceTempView("bands")
    spark.read.parquet(hadoop_path(docs_dir)).createOrReplaceTempView("docs")
    db = SparkDialect(spark)
    try:
        stats = cluster(db, verify, need, k)
        if stats["dropped"]:
            (spark.table("decisions").withColumnRenamed("rowno", "row")
             .select("unit", "row", "id", "keeper_id", "group_size")
             .write.mode("overwrite").partitionBy("unit").parquet(hadoop_path(decisions_dir)))
        return stats
    finally:
        for name in list(db.frames):
            db.drop(name)
        for name in ("bands", "docs"):
            spark.catalog.dropTempView(name)
