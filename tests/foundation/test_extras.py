"""Heavy parts are extras: the local stages import and run without pyspark and torch, and ``--engine spark``
without the spark extra is a one-line user error (exit 2) that says what to install.

Each check runs in a child process where importing pyspark / torch fails as if they were not installed
(``sys.modules[name] = None``), so this venv, which has them, tests the lean install.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = "from codeflow.cli import main\nsys.exit(main(sys.argv[1:]))\n"
WITHOUT = "import sys\nfor m in ('pyspark', 'torch', 'triton', 'airflow', 'datasketch'):\n    sys.modules[m] = None\n"


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT + code, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "CODEFLOW_LOG_LEVEL": "WARNING"}, timeout=300)


def test_every_core_module_imports_without_the_extras() -> None:
    code = (
        "import importlib, pkgutil, codeflow\n"
        "skip = ('codeflow.model', 'codeflow.pipelines.spark')\n"
        "names = [m.name for m in pkgutil.walk_packages(codeflow.__path__, 'codeflow.')\n"
        "         if not m.name.startswith(skip)]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'torch') and sys.modules[m])\n"
        "assert not heavy, heavy\n"
        "print(len(names))\n")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) >= 50  # the walk really imported the package tree


def test_a_local_stage_runs_without_the_extras(tmp_path) -> None:
    from tests.code.gitrepo import make_repo

    make_repo(str(tmp_path / "repo"), {"a.py": b"def f(x):\n    return x + 1\n", "b.go": b"package b\n"})
    (tmp_path / "list.txt").write_text("repo\n")
    proc = _run(CLI, "--quiet", "code", "--repos",
                str(tmp_path / "list.txt"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "out" / "_SUCCESS").exists()


def test_spark_engine_without_the_extra_is_a_user_error(tmp_path) -> None:
    proc = _run(CLI, "code", "--repos", str(tmp_path / "x.txt"),
                "--out", str(tmp_path / "out"), "--engine", "spark")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "pip install 'codeflow[spark]'" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "out").exists()
    lib = _run("import codeflow.pipelines.spark\n")
    assert lib.returncode != 0 and "ImportError: the Spark engine needs the spark extra" in lib.stderr
