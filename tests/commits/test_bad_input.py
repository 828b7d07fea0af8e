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
    repeated(p("binary"), 20, lambda i: {"assets/img.png": b"\x89PNG\x00\x00" + bytes([i]) * 64})
    repeated(p("lfs"), 20, lambda i: {"data/model.bin": "version https://git-lfs.github.com/spec/v1\n"
                                      f"oid sha256:{i:064x}\nsize {1000 + i}\n"})
    repeated(p("latin1"), 20, lambda i: {"pkg/legacy.py": f"# caf\xe9 {i}\nx = {i}\n".encode("latin-1")})
    repeated(p("giant"), 15, lambda i: {"pkg/big.py": "".join(f"v{i}_{k} = {k}\n" for k in range(5200))})
    return {"good": "", "missing": "repo_not_found", "plain": "not_a_repo", "empty": "empty_repo",
            "short": "too_short_history", "shallow": "shallow_clone",
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


def remove_blob(b: RepoBuilder, rank: int, path: str) -> str:
    """Delete the loose object of ``path`` as committed at first-parent ``rank`` (a partial / damaged clone)."""
    tree = b.repo[b.log[rank][0]].tree
    for part in path.split("/"):
        tree = b.repo[tree[part].id]
    oid = str(tree.id)
    os.remove(os.path.join(b.repo.path, "objects", oid[:2], oid[2:]))
    return oid


def test_missing_blob_skips_only_the_commits_whose_diff_needs_it(tmp_path):
    """mod0.py changes every third commit: the blob written at rank 15 is the new side of 15 and the old side
    of 18, so exactly those two commits are unreadable; every triplet that spans neither is mined."""
    b = linear_repo(str(tmp_path / "partial"), 30)
    remove_blob(b, 15, "pkg/mod0.py")
    cfg = TripletConfig(per_repo=12, clone_cache=str(tmp_path / "cache"))
    summary = run_build_triplets([RepoEntry(str(tmp_path / "partial"), "partial")], str(tmp_path / "out"), cfg)
    assert summary.rows_in == summary.kept + summary.rejected == 12
    assert summary.kept >= 6 and summary.stats["missing_objects"] == 2
    assert set(summary.reasons) <= {"missing_objects"} and summary.reasons.get("missing_objects", 0) >= 1
    rank = {sha: i for i, (sha, _) in enumerate(b.log)}
    lake = StageOutput(str(tmp_path / "out"))
    triplets = pq.read_table(lake.kept_path(0), columns=["start_commit", "end_commit"]).to_pylist()
    assert len(triplets) == summary.kept
    for t in triplets:
        step = range(rank[t["start_commit"]] + 1, rank[t["end_commit"]] + 1)
        assert 15 not in step and 18 not in step, t
    rejects = pq.read_table(lake.rejects_path(0)).to_pylist()
    assert all("object not found" in r["detail"] for r in rejects)


def test_corrupt_object_is_per_commit_too(tmp_path):
    b = linear_repo(str(tmp_path / "damaged"), 30)
    oid = remove_blob(b, 15, "pkg/mod0.py")
    with open(os.path.join(b.repo.path, "objects", oid[:2], oid[2:]), "wb") as fh:
        fh.write(b"x\x9c not zlib at all")
    cfg = TripletConfig(per_repo=12, clone_cache=str(tmp_path / "cache"))
    summary = run_build_triplets([RepoEntry(str(tmp_path / "damaged"), "damaged")], str(tmp_path / "out"), cfg)
    assert summary.rows_in == summary.kept + summary.rejected and summary.kept >= 6
    assert set(summary.reasons) <= {"corrupt_objects"} and summary.stats["corrupt_objects"] == 2


def test_missing_blob_at_head_is_one_file_reject_for_code_and_fim(cli, tmp_path):
    b = linear_repo(str(tmp_path / "partial"), 6)
    oid = remove_blob(b, 5, "pkg/mod2.py")  # rank 5 edits mod2: its blob is the one at HEAD
    (tmp_path / "list.txt").write_text(str(tmp_path / "partial") + "\n")
    code, output = cli("code", "--repos", str(tmp_path / "list.txt"), "--out", str(tmp_path / "code"))
    assert code == 0, output
    lake = StageOutput(str(tmp_path / "code"))
    kept = pq.read_table(lake.kept_path(0), columns=["path"]).column("path").to_pylist()
    rejects = pq.read_table(lake.rejects_path(0)).to_pylist()
    assert sorted(kept) == ["pkg/mod0.py", "pkg/mod1.py", "tests/test_mod0.py", "tests/test_mod1.py"]
    assert [(r["reason"], oid[:12] in r["detail"]) for r in rejects] == [("corrupt_object", True)]
    code, output = cli("fim", "--repos", str(tmp_path / "list.txt"), "--out", str(tmp_path / "fim"))
    assert code == 0, output
    fim = StageOutput(str(tmp_path / "fim"))
    assert sum(m["kept"] for m in fim.committed_markers()) >= 1
