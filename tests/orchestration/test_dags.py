"""The Airflow DAGs, run for real: ``airflow dags list`` / ``dags test`` with a SQLite metadata DB.

Checks: the DAG folder imports cleanly; the whole corpus DAG runs end to end on the bundled sample data and a
second run of the same logical date is a no-op resume; a run killed mid-way and retried ends with the same
shards; a missing input fails its task with the stage's own error and leaves no ``_SUCCESS``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("airflow.sdk")
pytestmark = pytest.mark.timeout(1200)

DAGS = Path(__file__).resolve().parents[2] / "airflow_dags"
AIRFLOW = str(Path(sys.executable).parent / "airflow")
# two small benchmarks keep decontamination's index build short, and 5 training steps do for the chain
CONF = json.dumps({"benchmarks": "humaneval,mbpp", "train_steps": 5})


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("airflow")
    env = {**os.environ, "AIRFLOW_HOME": str(root), "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "CODEFLOW_LAKE": str(root / "lake"), "PYSPARK_PYTHON": sys.executable}
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return env


def airflow(env: dict[str, str], *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout)


def shards(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.parquet"))
            if "_work" not in p.parts}


def test_dags_import_and_list(home) -> None:
    proc = airflow(home, "dags", "reserialize")
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = airflow(home, "dags", "list", "-o", "plain")
    rows = [line.split()[0] for line in listed.stdout.splitlines() if line.startswith("codeflow_")]
    assert sorted(rows) == ["codeflow_corpus", "codeflow_repos", "codeflow_train", "codeflow_web"], listed.stdout
    errors = airflow(home, "dags", "list-import-errors", "-o", "plain")
    assert errors.returncode == 0 and "airflow_dags" not in errors.stdout, errors.stdout


def test_corpus_dag_runs_then_resumes(home) -> None:
    lake = Path(home["CODEFLOW_LAKE"])
    proc = airflow(home, "dags", "test", "codeflow_corpus", "2026-01-05", "-c", CONF)
    assert proc.returncode == 0, proc.stdout[-4000:]  # `dags test` exits non-zero when the run failed
    log = proc.stdout + proc.stderr
    key = "20260105T000000Z"
    ran = ["clean_cc", "dedup_exact", "dedup_minhash", "decontaminate", "code", "fim_file", "fim_repo", "triplets",
           "train"]
    for stage in ran[:-1]:
        out = lake / stage / key
        if stage == "clean_cc":
            out = out / "documents"
        assert (out / "_SUCCESS").exists(), stage
        stats = json.loads((out / "_stats.json").read_text())
        if stage not in ("clean_cc", "triplets"):  # expanding stages count rows_in their own way
            assert stats["rows_in"] == stats["kept"] + stats["rejected"], stage
    assert "codeflow summary" in log and "report: " in log
    assert "no classifier model given" in log  # classify is skipped cleanly, the chain goes on
    assert (lake / "train" / key / "metrics.jsonl").exists()
    before = {s: shards(lake / s / key) for s in ran[:-1]}
    # the same logical date again: every stage resumes its committed shards and rewrites nothing
    again = airflow(home, "dags", "test", "codeflow_corpus", "2026-01-05", "-c", CONF)
    assert again.returncode == 0, again.stdout[-4000:]
    assert "0/1" in again.stdout + again.stderr and {s: shards(lake / s / key) for s in ran[:-1]} == before


def test_killed_run_retried_gives_same_shards(home) -> None:
    """SIGKILL the DAG run once clean-cc has committed, run it again: same shards as the uninterrupted corpus run
    of 2026-01-05 (same bundled inputs; ids depend on the inputs, not on the run folder)."""
    lake = Path(home["CODEFLOW_LAKE"])
    if not (lake / "dedup_minhash" / "20260105T000000Z" / "_SUCCESS").exists():
        pytest.skip("needs the uninterrupted run of test_corpus_dag_runs_then_resumes")
    marker_dir = lake / "clean_cc" / "20260201T120000Z" / "documents" / "_committed"
    proc = subprocess.Popen([AIRFLOW, "dags", "test", "codeflow_web", "2026-02-01T12:00:00", "-c", CONF], env=home,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while not (marker_dir.exists() and any(marker_dir.iterdir())):
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (lake / "dedup_minhash" / "20260201T120000Z" / "_SUCCESS").exists()
    retry = airflow(home, "dags", "test", "codeflow_web", "2026-02-01T12:00:00", "-c", CONF)
    assert retry.returncode == 0, retry.stdout[-3000:]
    for stage in ("clean_cc", "dedup_exact", "dedup_minhash", "decontaminate"):
        got = shards(lake / stage / "20260201T120000Z")
        assert got and got == shards(lake / stage / "20260105T000000Z"), stage


def test_missing_input_fails_the_task_with_the_stage_error(home, tmp_path) -> None:
    conf = json.dumps({"warcs": [str(tmp_path / "nope.warc.gz")]})
    proc = airflow(home, "dags", "test", "codeflow_web", "2026-03-01", "-c", conf)
    log = proc.stdout + proc.stderr
    assert "failed" in log.lower() and "nope.warc.gz" in log
    assert not (Path(home["CODEFLOW_LAKE"]) / "clean_cc" / "20260301T000000Z" / "documents" / "_SUCCESS").exists()
