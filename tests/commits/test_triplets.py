"""Triplet mining on real git repositories built with pygit2: window, filters, apply invariant, determinism."""

from __future__ import annotations

import os
import subprocess

import pyarrow.parquet as pq
import pytest

from codeflow.commits.config import TripletConfig
from codeflow.commits.run import run_build_triplets
from codeflow.repos import RepoEntry
from tests.commits.gitbuild import RepoBuilder, linear_repo, module


def kept_rows(out: str) -> list[dict]:
    return pq.read_table(os.path.join(out, "part-00000.parquet")).to_pylist()


def git_apply_check(row: dict, tmp: str) -> dict[str, str]:
    """Write files_old, `git apply` the patch there, return the resulting files."""
    os.makedirs(tmp)
    for f in row["files_old"]:
        p = os.path.join(tmp, f["path"])
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as fh:
            fh.write(f["content"].encode())
    with open(os.path.join(tmp, ".patch"), "wb") as fh:
        fh.write(row["patch"].encode())
    res = subprocess.run(["git", "apply", "--whitespace=nowarn", ".patch"], cwd=tmp, capture_output=True, text=True)
    assert res.returncode == 0 and "warning" not in res.stderr, res.stderr
    os.remove(os.path.join(tmp, ".patch"))
    got = {}
    for root, _, files in os.walk(tmp):
        for name in files:
            p = os.path.join(root, name)
            with open(p, "rb") as fh:
                got[os.path.relpath(p, tmp)] = fh.read().decode()
    return got


def test_starts_in_window_and_same_seed_same_bytes(tmp_path):
    b = linear_repo(str(tmp_path / "lin"), 60)
    entries = [RepoEntry(str(tmp_path / "lin"), "lin")]
    cfg = TripletConfig(per_repo=6, seed=7)
    s1 = run_build_triplets(entries, str(tmp_path / "o1"), cfg)
    run_build_triplets(entries, str(tmp_path / "o2"), cfg)
    assert s1.kept == 6 and s1.rows_in == s1.kept + s1.rejected
    rows = kept_rows(str(tmp_path / "o1"))
    shas = [sha for sha, _ in b.log]
    shift = cfg.max_start_shift  # the recorded start is the sampled one moved past commits the step does not need
    for r in rows:
        rank = shas.index(r["start_commit"])
        assert 0.4 <= rank / 59 <= 0.8 + shift / 59 and r["start_percentile"] == pytest.approx(rank / 59)
        assert shas.index(r["end_commit"]) == rank + r["n_commits"] > rank
    for name in ("part-00000.parquet", "rejects/part-00000.parquet"):
        assert (tmp_path / "o1" / name).read_bytes() == (tmp_path / "o2" / name).read_bytes()
    s3 = run_build_triplets(entries, str(tmp_path / "o3"), TripletConfig(per_repo=6, seed=8))
    assert s3.kept == 6
    assert {r["start_commit"] for r in kept_rows(str(tmp_path / "o3"))} != {r["start_commit"] for r in rows}


def filter_repo(path: str, blocks: int = 8) -> RepoBuilder:
    """Each block: a merge, whitespace-only, comment-only, bot, trivial message, lock-file-only, vendored-only
    commit, then exactly one good commit ("Implement ...") that is the only legal endpoint."""
    b = RepoBuilder(path)
    b.commit({"pkg/core.py": module(0), "pkg/util.py": module(100), "package-lock.json": "{}\n",
              "vendor/lib.py": "x = 0\n"}, "Create the package skeleton with core and util")
    for k in range(1, blocks + 1):
        b.merge({"pkg/util.py": module(100 + k)}, f"Rework util helper for case {k}", f"Merge branch 'feat-{k}'")
        ws = b.state["pkg/core.py"].decode().replace("\n\n\n", "\n\n\n\n").replace("import os", "import os   ")
        b.commit({"pkg/core.py": ws}, f"Tidy blank lines and spacing in core {k}")
        b.commit({"pkg/core.py": ws.replace("import os", f"# note {k}\nimport os")}, f"Explain the os import {k}")
        b.commit({"pkg/util.py": module(200 + k)}, f"Update dependency pins for round {k}",
                 author=("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"))
        b.commit({"pkg/util.py": module(300 + k)}, "update")
        b.commit({"package-lock.json": f'{{"v": {k}}}\n'}, f"Refresh the lock file for release {k}")
        b.commit({"vendor/lib.py": f"x = {k}\n"}, f"Sync the vendored copy of lib to upstream {k}")
        b.commit({"pkg/core.py": module(k, extra=f" * {k}"), "tests/test_core.py": f"def test_{k}():\n    pass\n"},
                 f"Implement scaling by {k} in the core function\n\nNeeded by the caller.")
    return b


def test_endpoints_obey_every_filter(tmp_path):
    b = filter_repo(str(tmp_path / "f"))
    out = str(tmp_path / "out")
    summary = run_build_triplets([RepoEntry(str(tmp_path / "f"), "f")], out,
                                 TripletConfig(per_repo=8, window=(0.0, 0.9)))
    assert summary.rows_in == summary.kept + summary.rejected and summary.kept >= 6
    msg = dict(b.log)
    for r in kept_rows(out):
        assert msg[r["end_commit"]].startswith("Implement ")
        assert "package-lock.json" not in r["patch"] and "vendor/lib.py" not in r["patch"]
        paths = {f["path"] for f in r["files_new"]}
        assert paths <= {"pkg/core.py", "pkg/util.py", "tests/test_core.py"}
        assert {s["reason"] for s in r["skipped_files"]} <= {"lock", "vendored"}
        assert r["stats"]["test_files"] == 1 and r["score_parts"]["tests"] == 1.0
    for name in ("merge", "whitespace_only", "comment_only", "bot_author", "trivial_message", "lock_file_only",
                 "vendored_or_generated"):
        assert summary.stats.get(f"filter_{name}", 0) >= 1, name


def test_patch_applies_with_git_apply(tmp_path):
    b = RepoBuilder(str(tmp_path / "edge"))
    b.commit({"src/a.py": "print(1)\n", "src/crlf.py": "a = 1\r\nb = 2\r\n", "docs/x.md": "# x\n"},
             "Create the initial sources and docs")
    for i in range(24):
        changes: dict[str, bytes | str | None] = {"src/a.py": f"print({i})\nvalue = {i}"}  # no final newline
        if i % 3 == 0:
            changes["src/crlf.py"] = f"a = {i}\r\nb = 2\r\n"
        if i % 4 == 1:
            changes[f"src/na\u00efve {i}.py"] = f"x = '\u00e9t\u00e9 {i}'\n"  # non-ASCII path with a space
        if i % 4 == 3:
            changes[f"src/na\u00efve {i - 2}.py"] = None  # delete
        if i % 3 == 1:  # executable (and renamed to a plain file and back): modes must not leak into the patch
            changes["bin/run.sh"] = f"#!/bin/sh\necho {i}\n"
        if i % 6 == 2:
            changes["bin/run.sh"], changes["bin/run.txt"] = None, f"echo {i}\n"
        if i % 5 == 2:
            changes["assets/logo.png"] = bytes([0, 1, 2, i]) * 50  # binary: listed, left out
        b.commit(changes, f"Change the printed value to {i} everywhere")
    out = str(tmp_path / "out")
    summary = run_build_triplets([RepoEntry(str(tmp_path / "edge"), "edge")], out,
                                 TripletConfig(per_repo=20, window=(0.0, 1.0)))
    rows = kept_rows(out)
    assert summary.kept == len(rows) >= 15
    seen_binary = seen_delete = seen_add = False
    for i, r in enumerate(rows):
        got = git_apply_check(r, str(tmp_path / f"apply{i}"))
        assert got == {f["path"]: f["content"] for f in r["files_new"]}
        seen_binary |= any(s["reason"] == "binary" for s in r["skipped_files"])
        old, new = {f["path"] for f in r["files_old"]}, {f["path"] for f in r["files_new"]}
        seen_delete |= bool(old - new)
        seen_add |= bool(new - old)
        assert "logo.png" not in r["patch"]
        assert r["text"].startswith("<|repo_name|>edge\n") and r["patch"] in r["text"]
    assert seen_binary and seen_delete and seen_add


def test_merge_endpoints_on_by_default_for_pull_request_histories(tmp_path):
    b = RepoBuilder(str(tmp_path / "pr"))
    b.commit({"pkg/core.py": module(0)}, "Create the core module of the package")
    for k in range(1, 30):
        b.merge({"pkg/core.py": module(k), "tests/test_core.py": f"def test_{k}():\n    pass\n"},
                f"Add feature {k} to the core", f"Merge pull request #{k} from dev/feature-{k}\n\nAdd feature {k}"
                                                f" to the core module")
    entries = [RepoEntry(str(tmp_path / "pr"), "pr")]
    off = run_build_triplets(entries, str(tmp_path / "off"), TripletConfig(per_repo=4, merge_endpoints=False))
    assert off.kept == 0 and off.reasons == {"no_endpoint": 4} and off.stats["filter_merge"] >= 4
    on = run_build_triplets(entries, str(tmp_path / "on"), TripletConfig(per_repo=4))  # auto: 29 of 30 are merges
    assert on.kept == 4 and on.stats["merge_endpoints"] == 1
    for i, r in enumerate(kept_rows(str(tmp_path / "on"))):
        assert r["messages"][-1].startswith("Add feature")  # the PR title, boilerplate header removed
        assert git_apply_check(r, str(tmp_path / f"a{i}")) == {f["path"]: f["content"] for f in r["files_new"]}
