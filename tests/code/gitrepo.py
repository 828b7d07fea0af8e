"""Build real git repositories with pygit2 for the tests (no git CLI, no checkout needed)."""

from __future__ import annotations

import pygit2

from codeflow.repos import MODE_BLOB, MODE_COMMIT, MODE_LINK, MODE_TREE

SIG = pygit2.Signature("Test", "test@example.com", 1_700_000_000, 0)


def _build_tree(repo: pygit2.Repository, files: dict[str, object]) -> pygit2.Oid:
    """files: path -> bytes (blob) | ("link", target) | ("submodule", sha) | ("oid", mode, oid)."""
    nested: dict[str, dict] = {}
    leaves: list[tuple[str, pygit2.Oid, int]] = []
    for path, value in files.items():
        head, _, rest = path.partition("/")
        if rest:
            nested.setdefault(head, {})[rest] = value
        elif isinstance(value, bytes):
            leaves.append((head, repo.create_blob(value), MODE_BLOB))
        elif value[0] == "link":
            leaves.append((head, repo.create_blob(value[1].encode()), MODE_LINK))
        elif value[0] == "submodule":
            leaves.append((head, pygit2.Oid(hex=value[1]), MODE_COMMIT))
        else:
            leaves.append((head, pygit2.Oid(hex=value[2]), value[1]))
    tb = repo.TreeBuilder()
    for name, oid, mode in leaves:
        tb.insert(name, oid, mode)
    for name, sub in nested.items():
        tb.insert(name, _build_tree(repo, sub), MODE_TREE)
    return tb.write()


def make_repo(path: str, files: dict[str, object], bare: bool = False, commits: int = 1) -> pygit2.Repository:
    """A repository whose HEAD (branch main) holds ``files``; ``commits`` > 1 adds earlier commits."""
    repo = pygit2.init_repository(path, bare=bare, initial_head="main")
    parents: list = []
    for i in range(commits):
        tree = _build_tree(repo, files if i == commits - 1 else {"README": f"v{i}\n".encode()})
        oid = repo.create_commit("refs/heads/main", SIG, SIG, f"commit {i}", tree, parents)
        parents = [oid]
    return repo
