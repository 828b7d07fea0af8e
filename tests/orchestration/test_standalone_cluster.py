"""Stages submitted to a real Spark standalone cluster (master + 2 workers on 127.0.0.1) write the same shards
as the embedded local engine: exact dedup, MinHash dedup, code validation and triplet mining."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import codeflow.pipelines.spark.submit as submit_script
from codeflow.pipelines.spark.cluster import (
    ClusterError,
    StandaloneCluster,
    check_master_reachable,
    free_port,
    loopback_driver_conf,
    spark_home,
)
from tests.code.gitrepo import make_repo
from tests.code.helpers import sample_files
from tests.commits.gitbuild import linear_repo
from tests.foundation.helpers import write_corpus

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def cluster():
    with StandaloneCluster(workers=2, cores_per_worker=1, memory_per_worker="1g") as c:
        yield c


def submit(master: str, *args: str) -> subprocess.CompletedProcess:
    spark_submit = str(spark_home() / "bin" / "spark-submit")
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("CODEFLOW_SPARK_MASTER", None)
    cmd = [spark_submit, "--master", master, "--conf", "spark.ui.enabled=false", *loopback_driver_conf(master),
           "--conf", "spark.executor.memory=768m", "--conf", f"spark.pyspark.python={sys.executable}",
           submit_script.__file__, "--quiet", *args, "--engine", "spark"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def same_shards(a: Path, b: Path) -> int:
    """Every Parquet file under ``a`` has a byte-identical twin under ``b`` (and no more); returns the count."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.parquet") if "_work" not in p.parts)
    files_b = sorted(p.relative_to(b) for p in b.rglob("*.parquet") if "_work" not in p.parts)
    assert files_a == files_b and files_a
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    return len(files_a)


def test_stages_on_standalone_cluster_match_local(cluster, tmp_path: Path, cli) -> None:
    assert cluster.alive_workers() == 2
    write_corpus(tmp_path / "docs", n_files=3, per_file=40, dup_rate=0.3, seed=11)
    make_repo(str(tmp_path / "sample"), sample_files())
    linear_repo(str(tmp_path / "hist"), 30)
    (tmp_path / "repos.txt").write_text(f"{tmp_path / 'sample'}\tdemo/sample\n{tmp_path / 'missing'}\n")
    (tmp_path / "hist.txt").write_text(f"{tmp_path / 'hist'}\thist\n")
    runs = {
        "exact": ["dedup", "--exact", "--input", str(tmp_path / "docs")],
        "code": ["code", "--repos", str(tmp_path / "repos.txt")],
        "triplets": ["build-triplets", "--repos", str(tmp_path / "hist.txt"), "--per-repo", "3"],
    }
    for name, args in runs.items():
        code, output = cli("--quiet", *args, "--out", str(tmp_path / "local" / name))
        assert code == 0, output
        t0 = time.monotonic()
        proc = submit(cluster.url, *args, "--out", str(tmp_path / "cluster" / name))
        assert proc.returncode == 0, (name, proc.stderr[-3000:], cluster.logs_tail())
        assert "codeflow summary" in proc.stdout, proc.stdout
        assert same_shards(tmp_path / "local" / name, tmp_path / "cluster" / name) >= 2
        assert (tmp_path / "cluster" / name / "_SUCCESS").exists(), f"{name}: {time.monotonic() - t0:.0f}s"
    # MinHash over the exact-dedup output: the global phase runs as Spark SQL on the cluster's executors
    near = ["dedup", "--minhash", "--input", str(tmp_path / "local" / "exact")]
    code, output = cli("--quiet", *near, "--out", str(tmp_path / "local" / "minhash"))
    assert code == 0, output
    proc = submit(cluster.url, *near, "--out", str(tmp_path / "cluster" / "minhash"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert same_shards(tmp_path / "local" / "minhash", tmp_path / "cluster" / "minhash") >= 2


def test_unreachable_master_is_a_clear_error_in_bounded_time() -> None:
    dead = f"spark://127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    with pytest.raises(ClusterError, match="not reachable"):
        check_master_reachable(dead, timeout_s=2)
    assert time.monotonic() - t0 < 5
    with pytest.raises(ClusterError, match="spark://host:port"):
        check_master_reachable("local[2]")


def test_orchestrated_stage_on_the_cluster(cluster, tmp_path: Path, cli) -> None:
    """What an Airflow task with engine=spark does: ``orchestrate.run_stage`` spark-submits to the master."""
    from codeflow import orchestrate as orch

    write_corpus(tmp_path / "docs", n_files=2, per_file=30, dup_rate=0.3, seed=12)
    step = orch.Step("dedup_exact", ("dedup", "--exact", "--input", str(tmp_path / "docs")), str(tmp_path / "sp"))
    orch.run_stage(step, orch.Params(lake=str(tmp_path), engine="spark", spark_master=cluster.url))
    code, output = cli("--quiet", "dedup", "--exact", "--input", str(tmp_path / "docs"), "--out", str(tmp_path / "lo"))
    assert code == 0, output
    assert same_shards(tmp_path / "lo", tmp_path / "sp") >= 2
    bad = orch.Step("dedup_exact", ("dedup", "--exact", "--input", str(tmp_path / "nope")), str(tmp_path / "x"))
    with pytest.raises(orch.StageFailed, match="exited 2") as e:
        orch.run_stage(bad, orch.Params(lake=str(tmp_path), engine="spark", spark_master=cluster.url))
    assert not e.value.retryable
