"""Repositories given as URLs: pinned to one commit at plan time, clone limits, network failures retried."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pygit2

from codeflow.code.run import run_code_repos
from codeflow.lake import StageOutput

from .gitrepo import SIG, _build_tree, make_repo


def _advance(path: str, files: dict[str, bytes]) -> str:
    repo = pygit2.Repository(path)
    parent = repo.head.target
    return str(repo.create_commit("refs/heads/main", SIG, SIG, "next", _build_tree(repo, files), [parent]))


def _list(tmp_path: Path, line: str) -> str:
    lst = tmp_path / "repos.txt"
    lst.write_text(line + "\n")
    return str(lst)


def test_url_repos_are_pinned_at_plan_time_and_recorded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CODEFLOW_REPO_CACHE", str(tmp_path / "cache"))
    origin = tmp_path / "origin.git"
    first = str(make_repo(str(origin), {"a.py": b"x = 1\n"}, bare=True).head.target)
    url = f"file://{origin}"
    run_code_repos(_list(tmp_path, f"{url}\tacme/a"), str(tmp_path / "o1"), split=2)
    manifest = json.loads((tmp_path / "o1" / "_manifest.json").read_text())
    assert {s["unit"].split("\t")[0] for s in manifest["shards"]} == {f"{url}@{first}"}
    # the origin moves on: a new run reads the new HEAD although the cache holds the old clone
    second = _advance(str(origin), {"a.py": b"x = 1\n", "b.py": b"y = 2\n"})
    run_code_repos(_list(tmp_path, f"{url}\tacme/a"), str(tmp_path / "o2"), split=2)
    kept = StageOutput(str(tmp_path / "o2")).read_kept()
    assert set(kept.column("commit").to_pylist()) == {second}
    assert sorted(kept.column("path").to_pylist()) == ["a.py", "b.py"]


def test_clone_over_the_size_limit_is_rejected_too_large(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CODEFLOW_REPO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CODEFLOW_CLONE_MAX_BYTES", "50000")
    origin = tmp_path / "big.git"
    make_repo(str(origin), {"blob.bin": os.urandom(200_000), "a.py": b"x = 1\n"}, bare=True)
    summary = run_code_repos(_list(tmp_path, f"file://{origin}\tacme/big"), str(tmp_path / "o"))
    assert summary.reasons == {"too_large": 1} and summary.kept == 0
    assert not list((tmp_path / "cache").glob("*.git"))  # no half clone left in the cache


def test_unreachable_server_fails_the_unit_instead_of_rejecting_the_repo(tmp_path: Path, monkeypatch, cli) -> None:
    monkeypatch.setenv("CODEFLOW_REPO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CODEFLOW_IO_BACKOFF", "0")
    with socket.socket() as s:  # a port nothing listens on: connection refused, as when a server blips
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    good = tmp_path / "good"
    make_repo(str(good), {"a.py": b"x = 1\n"})
    lst = tmp_path / "repos.txt"
    lst.write_text(f"{good}\tacme/good\nhttp://127.0.0.1:{port}/acme/down.git\tacme/down\n")
    out = tmp_path / "out"
    code, output = cli("--quiet", "code", "--repos", str(lst), "--out", str(out))
    assert code != 0 and "1 of 2 units failed" in output
    assert [p.name for p in (out / "_committed").glob("*.json")] == ["part-00000.json"]  # no clone_failed reject
    assert not (out / "_SUCCESS").exists()


def test_clone_over_the_time_limit_is_rejected_clone_timeout(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CODEFLOW_REPO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CODEFLOW_CLONE_TIMEOUT_S", "1e-9")  # already over budget when the first object arrives
    origin = tmp_path / "slow.git"
    make_repo(str(origin), {"a.py": b"x = 1\n"}, bare=True)
    summary = run_code_repos(_list(tmp_path, f"file://{origin}\tacme/slow"), str(tmp_path / "o"))
    assert summary.reasons == {"clone_timeout": 1} and summary.kept == 0
