"""Build real git repositories with pygit2 whose first-parent histories the tests control."""

from __future__ import annotations

import pygit2
from pygit2.enums import FileMode

DEV = ("Dev", "dev@example.com")


class RepoBuilder:
    """Commits on ``main`` from a path -> content state; ``None`` deletes a file."""

    def __init__(self, path: str, bare: bool = False) -> None:
        self.repo = pygit2.init_repository(path, bare=bare, initial_head="main")
        self.state: dict[str, bytes] = {}
        self.head: pygit2.Oid | None = None
        self.time = 1_700_000_000
        self.log: list[tuple[str, str]] = []  # (sha, message) in first-parent order

    def _tree(self, state: dict[str, bytes]) -> pygit2.Oid:
        index = pygit2.Index()
        for path, data in sorted(state.items()):
            mode = FileMode.BLOB_EXECUTABLE if path.endswith(".sh") else FileMode.BLOB
            index.add(pygit2.IndexEntry(path, self.repo.create_blob(data), mode))
        return index.write_tree(self.repo)

    def _sig(self, who: tuple[str, str]) -> pygit2.Signature:
        self.time += 60
        return pygit2.Signature(who[0], who[1], self.time, 0)

    @staticmethod
    def _apply(state: dict[str, bytes], changes: dict[str, bytes | str | None]) -> dict[str, bytes]:
        new = dict(state)
        for path, data in changes.items():
            if data is None:
                new.pop(path, None)
            else:
                new[path] = data.encode() if isinstance(data, str) else data
        return new

    def commit(self, changes: dict[str, bytes | str | None], message: str, author: tuple[str, str] = DEV) -> str:
        self.state = self._apply(self.state, changes)
        sig = self._sig(author)
        parents = [self.head] if self.head else []
        self.head = self.repo.create_commit("refs/heads/main", sig, sig, message, self._tree(self.state), parents)
        self.log.append((str(self.head), message))
        return str(self.head)

    def merge(self, changes: dict[str, bytes | str | None], side_message: str, message: str) -> str:
        """A side-branch commit with ``changes`` merged into main by a merge commit (first parent: main)."""
        side_state = self._apply(self.state, changes)
        sig = self._sig(DEV)
        side = self.repo.create_commit(None, sig, sig, side_message, self._tree(side_state), [self.head])
        self.state = side_state
        sig = self._sig(DEV)
        self.head = self.repo.create_commit("refs/heads/main", sig, sig, message, self._tree(self.state),
                                           [self.head, side])
        self.log.append((str(self.head), message))
        return str(self.head)


def module(i: int, extra: str = "") -> str:
    """A small Python module whose content depends on ``i``."""
    return f'"""Module v{i}."""\n\nimport os\n\n\ndef f{i}(x):\n    return x + {i}{extra}\n'


def linear_repo(path: str, n: int, files: int = 3) -> RepoBuilder:
    """``n`` good commits, each editing one of ``files`` Python modules (and sometimes its test)."""
    b = RepoBuilder(path)
    for i in range(n):
        k = i % files
        changes: dict[str, bytes | str | None] = {f"pkg/mod{k}.py": module(i)}
        if i % 4 == 0:
            test = f"from pkg.mod{k} import f{i}\n\n\ndef test():\n    assert f{i}(0) == {i}\n"
            changes[f"tests/test_mod{k}.py"] = test
        b.commit(changes, f"Add feature number {i} to module {k}\n\nExplains why feature {i} is needed.")
    return b
