"""The global phase of dedup in Spark SQL: the same keeper rule as the duckdb path, distributed."""

from __future__ import annotations

from pyspark.sql import Window
from pyspark.sql import functions as F

from codeflow.pipelines.spark.session import get_spark


def hadoop_path(url: str) -> str:
    """fsspec URL -> a path Spark's Hadoop filesystem understands (s3:// is s3a:// there)."""
    if url.startswith("s3://"):
        return "s3a://" + url[len("s3://"):]
    return url


def group_spark(keys_dir: str, decisions_dir: str) -> int:
    spark = get_spark()
    keys = spark.read.parquet(hadoop_path(keys_dir))
    ordered = Window.partitionBy("hash").orderBy("id", "unit", "row")
    decisions = (keys.withColumn("rn", F.row_number().over(ordered))
                 .withColumn("keeper_id", F.first("id").over(ordered))
                 .withColumn("group_size", F.count("*").over(Window.partitionBy("hash")))
                 .where("rn > 1")
                 .select("unit", "row", "id", "keeper_id", "group_size")
                 .cache())
    n = decisions.count()
    if n:
        decisions.write.mode("overwrite").partitionBy("unit").parquet(hadoop_path(decisions_dir))
    decisions.unpersist()
    return int(n)
