"""Spark and the local engine give byte-identical MinHash dedup output (same clusters, same keepers)."""

from __future__ import annotations

import random

import duckdb
from planted import planted_corpus, write_units

from codeflow.dedup.minhash import MinHashConfig
from codeflow.dedup.minhash_run import run_near_dedup
from codeflow.engines.local import DuckDialect


def shard_bytes(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.parquet"))
            if "_work" not in p.parts}


def test_spark_and_local_outputs_are_byte_identical(tmp_path, spark):
    from codeflow.engines.spark import SparkDialect

    docs = planted_corpus(n_families=12, singles=10, seed=11)
    rng = random.Random(0)
    stars = [rng.choice([None, 1, 2, 3]) for _ in docs]
    score = [rng.choice([None, 0.5, float("nan"), 0.9]) for _ in docs]
    units = write_units(docs, tmp_path, n_units=2, extra={"stars": stars, "quality_score": score})
    cfg = MinHashConfig(threshold=0.75)
    local = run_near_dedup(units, str(tmp_path / "local"), cfg, engine="local")
    dist = run_near_dedup(units, str(tmp_path / "spark"), cfg, engine="spark")
    assert local.rejected > 10
    assert (local.kept, local.rejected, local.reasons) == (dist.kept, dist.rejected, dist.reasons)
    a, b = shard_bytes(tmp_path / "local"), shard_bytes(tmp_path / "spark")
    assert len(a) == 4 and a == b
    report = (tmp_path / "local" / "_report.html").read_bytes()
    assert report == (tmp_path / "spark" / "_report.html").read_bytes() and b"<svg" in report
    # the dialect-specific verification expressions agree on both engines
    query = "SELECT {agree}, {dot} FROM (SELECT {x} AS x, {y} AS y) t"
    spark_sql, duck = SparkDialect(spark), DuckDialect(duckdb.connect())
    on_spark = spark.sql(query.format(agree=spark_sql.agree("x", "y", 4), dot=spark_sql.dot("x", "y", 4),
                                      x="array(1L, -2L, 3L, 9L)", y="array(1L, 2L, 3L, -4L)")).collect()[0]
    on_duck = duck.con.execute(query.format(agree=duck.agree("x", "y", 4), dot=duck.dot("x", "y", 4),
                                            x="[1, -2, 3, 9]::BIGINT[]", y="[1, 2, 3, -4]::BIGINT[]")).fetchone()
    assert tuple(on_spark) == tuple(on_duck) == (2, -30)
