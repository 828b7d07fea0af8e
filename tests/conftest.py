"""Shared fixtures: one real local SparkSession for the whole run (starting one costs ~10 s)."""

from __future__ import annotations

import logging
import os
import sys

import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # test Spark traffic stays on the loopback interface
# py4j logs at INFO from __del__ while the interpreter shuts down, after pytest closed the streams ("Logging error")
logging.getLogger("py4j").setLevel(logging.WARNING)
os.environ.setdefault("CODEFLOW_SPARK_MASTER", "local[2]")
os.environ.setdefault("CODEFLOW_SPARK_SHUFFLE_PARTITIONS", "4")


@pytest.fixture(scope="session")
def spark():
    from codeflow.pipelines.spark.session import get_spark

    session = get_spark("local[2]")
    yield session
    session.stop()


@pytest.fixture
def cli():
    """Run the codeflow CLI in-process; returns (exit code, stdout+stderr)."""
    import contextlib
    import io

    from codeflow.cli import main

    def run(*args: str) -> tuple[int, str]:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            code = main(list(args))
        return code, buf.getvalue()

    return run
