"""A run killed with SIGKILL midway and re-run ends with exactly the uninterrupted output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from codeflow.lake import StageOutput

from .helpers import write_corpus


def _cmd(inp: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "codeflow.cli", "--quiet", "dedup", "--exact", "--input", str(inp),
            "--out", str(out), "--workers", "1"]


def test_sigkill_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    n_files = 40
    write_corpus(tmp_path / "in", n_files=n_files, per_file=400, dup_rate=0.2, seed=11)
    subprocess.run(_cmd(tmp_path / "in", tmp_path / "ref"), check=True, capture_output=True)

    out = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(tmp_path / "in", out), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    committed = out / "_committed"
    deadline = time.time() + 120
    killed_at = None
    while time.time() < deadline and proc.poll() is None:
        done = len(list(committed.glob("*.json"))) if committed.exists() else 0
        if done >= 3:
            os.killpg(proc.pid, signal.SIGKILL)
            killed_at = done
            break
        time.sleep(0.01)
    proc.wait()
    assert killed_at is not None and killed_at < n_files, "the run finished before it could be killed midway"
    assert not (out / "_SUCCESS").exists()

    subprocess.run(_cmd(tmp_path / "in", out), check=True, capture_output=True)
    ref, got = StageOutput(str(tmp_path / "ref")), StageOutput(str(out))
    assert got.is_complete()
    assert [m["index"] for m in got.committed_markers()] == list(range(n_files))
    for i in range(n_files):
        assert Path(got.kept_path(i)).read_bytes() == Path(ref.kept_path(i)).read_bytes()
        assert Path(got.rejects_path(i)).read_bytes() == Path(ref.rejects_path(i)).read_bytes()
    assert not list(out.rglob(".tmp-*"))  # temp files of the killed writer are swept at the final commit
    visible = [p for p in out.rglob("*.parquet") if not p.name.startswith(".")]
    assert all(p.name.startswith("part-") for p in visible)
