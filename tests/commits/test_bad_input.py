"""Bad repositories become per-repo (or per-start) rejects with a reason; the good repository still yields."""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pygit2

from codeflow.commits.config import TripletConfig
from codeflow.commits.run import run_build_triplets
from codeflow.lake import StageOutput
from codeflow.repos import RepoEntry
from tests.commits.gitbuild import RepoBuilder, linear_repo, module


def repeated(path: str, n: int, change) -> None:
    b = RepoBuilder(path)
    b.commit({"pkg/main.py": module(0)}, "Create the main module of the package")
    for i in range(1, n):
        b.commit(change(i), f"Change the stored asset to revision {i}")


def build_bad_repos(root) -> dict[str, str]:
    """name -> expected reject reason; the repos live under ``root``."""
    p = lambda name: str(root / name)  # noqa: E731
    linear_repo(p("good"), 30)
    os.makedirs(p("plain"))
    pygit2.init_repository(p("empty"))
    linear_repo(p("short"), 5)
    linear_repo(p("shallow"), 30)
    with open(os.path.join(p("shallow"), ".git", "shallow"), "w") as fh:  # how git marks a shallow clone
        fh.write(str(pygit2.Repository(p("shallow")).head.target) + "\n")
    b = linear_repo(p("corrupt"), 30)
    blob = b.repo[b.log[15][0]].tree["pkg"]["mod0.py"].id  # a blob of the middle of history, deleted
    os.remove(os.path.join(p("corrupt"), ".git", "objects", str(blob)[:2], str(blob)[2:]))
    repeated(p("binary"), 20, lambda i: {"assets/img.png": b"\x89PNG\x00\x00" + bytes([i]) * 64})
    repeated(p("lfs"), 20, lambda i: {"data/model.bin": "version https://git-lfs.github.com/spec/v1\n"
                                      f"oid sha256:{i:064x}\nsize {1000 + i}\n"})
    repeated(p("latin1"), 20, lambda i: {"pkg/legacy.py": f"# caf\xe9 {i}\nx = {i}\n".encode("latin-1")})
    repeated(p("giant"), 15, lambda i: {"pkg/big.py": "".join(f"v{i}_{k} = {k}\n" for k in range(5200))})
    return {"good": "", "missing": "repo_not_found", "plain": "not_a_repo", "empty": "empty_repo",
            "short": "too_short_history", "shallow": "shallow_clone", "corrupt": "corrupt_objects",
            "binary": "binary_only", "lfs": "lfs_only", "latin1": "non_utf8_only", "giant": "giant_diff",
            "url": "clone_failed"}


def test_every_bad_input_is_a_reject_and_the_run_goes_on(tmp_path):
    expected = build_bad_repos(tmp_path)
    entries = [RepoEntry("file:///nonexistent/codeflow-no-such-repo.git" if name == "url" else str(tmp_path / name),
                         name) for name in expected]
    out = str(tmp_path / "out")
    summary = run_build_triplets(entries, out, TripletConfig(per_repo=3, clone_cache=str(tmp_path / "cache")))
    assert summary.rows_in == summary.kept + summary.rejected
    lake = StageOutput(out)
    markers = {m["unit"].split("\t")[1]: m for m in lake.committed_markers()}
    assert set(markers) == set(expected)
    for name, reason in expected.items():
        m = markers[name]
        rejects = pq.read_table(lake.rejects_path(m["index"])).to_pylist()
        if not reason:
            assert m["kept"] == 3 and not rejects, rejects
        else:
            assert m["kept"] == 0 and rejects, name
            assert {r["reason"] for r in rejects} == {reason}, (name, rejects)
            assert m["stats"]["rows_in"] == len(rejects)
