"""Entry script for ``spark-submit``: runs any codeflow command on the cluster's master.

    spark-submit --master spark://host:7077 pipelines/spark/submit.py dedup --exact \\
        --input s3://bucket/docs --out s3://bucket/lake/dedup_exact/run1 --engine spark

The session is created by spark-submit (master, executors, packages); ``get_spark`` detects that and does not
override the master. ``--engine spark`` is what routes the stage's units to Spark tasks.
"""

from __future__ import annotations

import os
import subprocess
import sys

from codeflow.cli import main


def submit_stage(master: str, argv: list[str]) -> subprocess.CompletedProcess:
    """``spark-submit`` this script with a codeflow command line against ``master``; output captured.

    An unreachable master fails within seconds with one line (``check_master_reachable``) instead of
    spark-submit's minute of registration retries. A master on 127.0.0.1 keeps the driver there too.
    """
    from codeflow.pipelines.spark.cluster import check_master_reachable, loopback_driver_conf, spark_home

    check_master_reachable(master)
    cmd = [str(spark_home() / "bin" / "spark-submit"), "--master", master, "--conf", "spark.ui.enabled=false",
           *loopback_driver_conf(master), "--conf", f"spark.pyspark.python={sys.executable}", __file__, *argv]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    env.pop("CODEFLOW_SPARK_MASTER", None)
    return subprocess.run(cmd, env=env, text=True, capture_output=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
