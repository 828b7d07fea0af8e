"""One place that builds the SparkSession, so tests, the CLI and spark-submit agree on settings."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession


def get_spark(master: str | None = None, app_name: str = "codeflow") -> SparkSession:
    """The active session, or a new one.

    Under ``spark-submit`` the master comes from the submit command and ``master`` should be None; on one
    machine it defaults to ``local[*]``. Python workers must run the driver's interpreter (our venv),
    otherwise they import another codeflow or none.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(app_name)
    # spark-submit starts the Python driver with a gateway already open and the master already set.
    under_submit = "PYSPARK_GATEWAY_PORT" in os.environ
    if master or not under_submit:
        builder = builder.master(master or os.environ.get("CODEFLOW_SPARK_MASTER", "local[*]"))
    builder = (builder.config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", os.environ.get("CODEFLOW_SPARK_SHUFFLE_PARTITIONS", "8"))
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.session.timeZone", "UTC"))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
