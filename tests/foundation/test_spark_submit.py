"""A real ``spark-submit`` of a stage writes the same shards as the embedded local engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import codeflow.pipelines.spark.submit as submit_script

from .helpers import write_corpus


@pytest.mark.timeout(300)
def test_spark_submit_matches_local(tmp_path: Path, cli) -> None:
    spark_submit = shutil.which("spark-submit", path=str(Path(sys.executable).parent)) or shutil.which("spark-submit")
    assert spark_submit, "pyspark ships spark-submit next to the venv's python"
    write_corpus(tmp_path / "in", n_files=2, per_file=30, dup_rate=0.3, seed=5)
    code, _ = cli("--quiet", "dedup", "--exact", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "local"))
    assert code == 0
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    env.pop("CODEFLOW_SPARK_MASTER", None)
    proc = subprocess.run([spark_submit, "--master", "local[1]", "--conf", "spark.ui.enabled=false",
                           submit_script.__file__, "--quiet", "dedup", "--exact", "--input", str(tmp_path / "in"),
                           "--out", str(tmp_path / "submitted"), "--engine", "spark"],
                          env=env, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "codeflow summary" in proc.stdout
    for sub in ("part-00000.parquet", "part-00001.parquet", "rejects/part-00000.parquet"):
        assert (tmp_path / "local" / sub).read_bytes() == (tmp_path / "submitted" / sub).read_bytes()
