"""Repo lists and opening repositories: working trees, bare repos, URL clones, and every bad case."""

from __future__ import annotations

import os

import pytest

from codeflow.repos import (
    RepoEntry,
    RepoError,
    RepoListError,
    TreeFile,
    head_commit,
    iter_tree,
    open_repo,
    parse_repo_list,
    read_repo_list,
    repo_name_for,
)

from .gitrepo import make_repo


def test_parse_repo_list_comments_names_and_order() -> None:
    text = "# header\n\n/r/one\n/r/two.git\tTwo  # trailing\n  https://github.com/o/n.git\ngit@h.com:o/m.git\n"
    entries = parse_repo_list(text)
    assert [(e.location, e.name, e.line_no) for e in entries] == [
        ("/r/one", "one", 3), ("/r/two.git", "Two", 4), ("https://github.com/o/n.git", "o/n", 5),
        ("git@h.com:o/m.git", "o/m", 6)]
    assert RepoEntry.from_unit(entries[1].unit) == RepoEntry("/r/two.git", "Two")


def test_read_repo_list_relative_paths_and_errors(tmp_path) -> None:
    (tmp_path / "list.txt").write_text("sub/repo\n")
    assert read_repo_list(str(tmp_path / "list.txt"))[0].location == str(tmp_path / "sub" / "repo")
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(RepoListError):
        read_repo_list(str(tmp_path / "empty.txt"))
    with pytest.raises(RepoListError):
        read_repo_list(str(tmp_path / "missing.txt"))


def test_repo_name_for() -> None:
    assert repo_name_for("/a/b/attrs/") == "attrs"
    assert repo_name_for("/a/b/attrs/.git") == "attrs"
    assert repo_name_for("/m/jsoup.git") == "jsoup"
    assert repo_name_for("https://github.com/python-attrs/attrs") == "python-attrs/attrs"


def test_open_working_tree_bare_and_url_clone(tmp_path) -> None:
    make_repo(str(tmp_path / "wt"), {"a.py": b"x = 1\n", "pkg/b.py": b"y = 2\n"})
    make_repo(str(tmp_path / "bare.git"), {"c.go": b"package c\n"}, bare=True)
    for loc in (tmp_path / "wt", tmp_path / "bare.git"):
        repo = open_repo(str(loc))
        files = [f for f in iter_tree(repo, head_commit(repo).tree) if isinstance(f, TreeFile)]
        assert files and all(f.kind == "blob" for f in files)
    cache = tmp_path / "cache"
    url = f"file://{tmp_path / 'bare.git'}"
    first = open_repo(url, cache_dir=str(cache))
    again = open_repo(url, cache_dir=str(cache))
    assert first.is_bare and first.path == again.path and len(os.listdir(cache)) == 1
    assert str(head_commit(first).id) == str(head_commit(open_repo(str(tmp_path / "bare.git"))).id)


@pytest.mark.parametrize("case,reason", [("missing", "repo_not_found"), ("plain_dir", "not_a_repo"),
                                         ("file", "not_a_repo"), ("url", "clone_failed")])
def test_open_bad_locations(tmp_path, case: str, reason: str) -> None:
    (tmp_path / "plain_dir").mkdir()
    (tmp_path / "file").write_text("x")
    loc = {"missing": str(tmp_path / "missing"), "plain_dir": str(tmp_path / "plain_dir"),
           "file": str(tmp_path / "file"), "url": f"file://{tmp_path}/nope.git"}[case]
    with pytest.raises(RepoError) as e:
        open_repo(loc, cache_dir=str(tmp_path / "cache"))
    assert e.value.reason == reason


def test_plain_dir_inside_a_repo_is_not_that_repo(tmp_path) -> None:
    make_repo(str(tmp_path / "outer"), {"a.py": b"x = 1\n"})
    (tmp_path / "outer" / "inner").mkdir()
    with pytest.raises(RepoError) as e:
        open_repo(str(tmp_path / "outer" / "inner"))
    assert e.value.reason == "not_a_repo"


def test_empty_repo(tmp_path) -> None:
    import pygit2

    pygit2.init_repository(str(tmp_path / "empty"))
    with pytest.raises(RepoError) as e:
        head_commit(open_repo(str(tmp_path / "empty")))
    assert e.value.reason == "empty_repo"


def test_tree_kinds_links_and_submodules(tmp_path) -> None:
    repo = make_repo(str(tmp_path / "r"), {"a.py": b"x = 1\n", "link.py": ("link", "a.py"),
                                           "ext/lib": ("submodule", "1" * 40)})
    kinds = {f.path: f.kind for f in iter_tree(repo, head_commit(repo).tree)}
    assert kinds == {"a.py": "blob", "link.py": "link", "ext/lib": "submodule"}
