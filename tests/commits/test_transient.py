"""A network failure is not a bad repository: the unit is retried, then left uncommitted (no reject)."""

from __future__ import annotations

import socket

from codeflow.lake import StageOutput
from tests.commits.gitbuild import linear_repo


def test_unreachable_server_is_not_a_clone_failed_reject(tmp_path, monkeypatch, cli) -> None:
    monkeypatch.setenv("CODEFLOW_REPO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CODEFLOW_IO_BACKOFF", "0")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    linear_repo(str(tmp_path / "good"), 12)
    lst = tmp_path / "repos.txt"
    lst.write_text(f"{tmp_path / 'good'}\tacme/good\nhttp://127.0.0.1:{port}/acme/down.git\tacme/down\n")
    out = tmp_path / "out"
    code, output = cli("--quiet", "build-triplets", "--repos", str(lst), "--out", str(out))
    assert code != 0 and "1 of 2 units failed" in output and "Connection refused" in output
    assert StageOutput(str(out)).committed_markers()[0]["unit"].startswith(str(tmp_path / "good") + "@")
    assert "clone_failed" not in StageOutput(str(out)).read_rejects().column("reason").to_pylist()
    assert not (out / "_SUCCESS").exists()
