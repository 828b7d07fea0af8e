"""Repositories for the demo: this checkout's own history, plus a small generated one that always works.

The project's history is young (and a source install has none), so the demo also mines a tiny repository it
builds with pygit2: a ``calc`` package that grows over ~40 first-parent commits, with the noise the filters
exist for (a merge, a whitespace-only and a comment-only commit, a bot, a lock-file refresh, a trivial message).
Built deterministically (fixed signatures and times), so its shas and the demo's triplets never change.
"""

from __future__ import annotations

import os

import pygit2
from pygit2.enums import FileMode

from codeflow.repos import RepoEntry

FUNCS = [("add", "a + b"), ("sub", "a - b"), ("mul", "a * b"), ("div", "a / b if b else 0.0"),
         ("mod", "a % b if b else 0"), ("power", "a ** b"), ("minimum", "min(a, b)"), ("maximum", "max(a, b)"),
         ("mean", "(a + b) / 2"), ("hypot", "(a * a + b * b) ** 0.5")]


def _module(names: list[str], doc: str = "Arithmetic helpers.", tweak: str = "") -> str:
    body = "".join(f"\n\ndef {n}(a, b):\n    return {dict(FUNCS)[n]}{tweak if n == names[-1] else ''}\n"
                   for n in names)
    return f'"""{doc}"""\n\nfrom calc.util import check{body}'


def _tests(names: list[str]) -> str:
    body = "".join(f"\n\ndef test_{n}():\n    assert ops.{n}(6, 3) is not None\n" for n in names)
    return f"from calc import ops{body}"


def build_demo_repo(path: str) -> str:
    """Create (or reuse) the generated demo repository at ``path``; returns its path."""
    if os.path.isdir(path):
        try:
            repo = pygit2.Repository(path)
            if not repo.head_is_unborn:
                return path
        except pygit2.GitError:
            pass
    repo = pygit2.init_repository(path, bare=True, initial_head="main")
    state: dict[str, bytes] = {}
    clock = [1_600_000_000]
    head: list = []

    def tree(files: dict[str, bytes]) -> pygit2.Oid:
        index = pygit2.Index()
        for p, data in sorted(files.items()):
            index.add(pygit2.IndexEntry(p, repo.create_blob(data), FileMode.BLOB))
        return index.write_tree(repo)

    def sig(name: str = "Ada", email: str = "ada@example.com") -> pygit2.Signature:
        clock[0] += 3600
        return pygit2.Signature(name, email, clock[0], 0)

    def commit(changes: dict[str, str], message: str, who: tuple[str, str] = ("Ada", "ada@example.com"),
               side: dict[str, str] | None = None) -> None:
        state.update({k: v.encode() for k, v in changes.items()})
        parents = list(head)
        if side is not None:  # a merge: the side branch brings ``side`` on top of the current state
            s = sig(*who)
            side_state = {**state, **{k: v.encode() for k, v in side.items()}}
            parents.append(repo.create_commit(None, s, s, "Add the side feature", tree(side_state), parents[:1]))
            state.update(side_state)
        s = sig(*who)
        head[:] = [repo.create_commit("refs/heads/main", s, s, message, tree(state), parents)]

    names: list[str] = []
    commit({"README.md": "# calc\n", "calc/__init__.py": '"""calc."""\n',
            "calc/util.py": "def check(x):\n    return x\n"}, "Create the calc package skeleton")
    for i, (name, _) in enumerate(FUNCS):
        names.append(name)
        commit({"calc/ops.py": _module(names), "tests/test_ops.py": _tests(names)},
               f"Add {name} to the arithmetic helpers\n\nWith a test for the new function.")
        commit({"calc/util.py": f"def check(x):\n    if x is None:\n        raise ValueError('missing')\n"
                                f"    return x  # v{i}\n"}, f"Validate missing operands in check, round {i}")
        if i == 3:
            commit({"calc/ops.py": _module(names).replace("\n\n\n", "\n\n\n\n")}, "Tidy the blank lines in ops")
        if i == 4:
            commit({"calc/ops.py": _module(names, doc="Arithmetic helpers (pure functions).")},
                   "Document that the helpers are pure")
        if i == 5:
            commit({"requirements.lock": f"numpy==2.{i}\n"}, "Bump numpy from 2.4 to 2.5",
                   who=("dependabot[bot]", "bot@example.com"))
        if i == 6:
            commit({"docs/usage.md": "# Usage\n\n`from calc import ops`\n"}, "update")
        if i == 7:
            commit({}, "Merge branch 'feature/tolerance'",
                   side={"calc/tolerance.py": "EPS = 1e-9\n\n\ndef close(a, b):\n    return abs(a - b) < EPS\n"})
        if i >= 8:
            commit({"calc/ops.py": _module(names, tweak=" + 0")}, f"Normalise the result of {name}")
    return path


def demo_repo_entries(work_dir: str) -> list[RepoEntry]:
    """This checkout (when the working directory is inside a git repository) and the generated repository."""
    entries = []
    found = pygit2.discover_repository(os.getcwd())
    if found:
        repo = pygit2.Repository(found)
        root = repo.workdir or repo.path
        entries.append(RepoEntry(root.rstrip("/"), "codeflow (this checkout)"))
    entries.append(RepoEntry(build_demo_repo(os.path.join(work_dir, "calc.git")), "calc (generated)"))
    return entries
