"""Triplet context files come from the shared import resolver (``codeflow.fim.imports``), per language, on a real
git repository; config files never pick context nor take a slot."""

from __future__ import annotations

import pytest

from codeflow.commits.context import select_context
from codeflow.fim.context import RepoFile
from codeflow.fim.repo_context import UnitIndex
from tests.commits.gitbuild import RepoBuilder

FILES = {
    # python: package submodule through ``from pkg import util``; an alphabetically earlier neighbour
    "pkg/__init__.py": "",
    "pkg/util.py": "def helper(x):\n    return x + 1\n",
    "app/aaa.py": "X = 1\n",
    "app/main.py": "from pkg import util\n\nprint(util.helper(1))\n",
    # typescript: './errors.js' is errors.ts; a JSON import is data, never context
    "web/data.json": '{"a": 1}\n',
    "web/errors.ts": "export class HttpError extends Error {}\n",
    "web/index.ts": "import data from './data.json';\nimport {HttpError} from './errors.js';\n\n"
                    "throw new HttpError();\n",
    # java: a class of another package (the same-package neighbour Aaa comes only after it)
    "src/main/java/com/acme/Money.java": "package com.acme;\n\npublic final class Money {}\n",
    "src/main/java/com/acme/app/Aaa.java": "package com.acme.app;\n\nclass Aaa {}\n",
    "src/main/java/com/acme/app/Shop.java": "package com.acme.app;\n\nimport com.acme.Money;\n\n"
                                            "class Shop { Money m; }\n",
    # go: the package through go.mod's module path; the standard library resolves to nothing; tests are not it
    "go.mod": "module example.com/shop\n\ngo 1.22\n",
    "money/money.go": "package money\n\ntype Money int\n",
    "money/money_test.go": "package money\n",
    "cmd/aaa.go": "package main\n",
    "cmd/main.go": 'package main\n\nimport (\n\t"errors"\n\t"example.com/shop/money"\n)\n\n'
                   "var m money.Money\nvar e = errors.New(\"x\")\n",
    # rust and c
    "src/parser.rs": "pub struct Token;\n",
    "src/aaa.rs": "pub fn a() {}\n",
    "src/lib.rs": "mod parser;\nuse crate::parser::Token;\n\nfn f(_t: Token) {}\n",
    "lib/aaa.c": "int a;\n",
    "lib/ring.h": "int ring_push(int v);\n",
    "lib/ring.c": '#include "ring.h"\n\nint f(void) { return ring_push(1); }\n',
    # config: a touched workflow must not bring its sibling workflows
    ".github/workflows/ci.yml": "on: push\n",
    ".github/workflows/release.yml": "on: tag\n",
}
CASES = {
    "python": ("app/main.py", ["pkg/util.py", "app/aaa.py"]),
    "typescript .js -> .ts, json skipped": ("web/index.ts", ["web/errors.ts"]),
    "java": ("src/main/java/com/acme/app/Shop.java",
             ["src/main/java/com/acme/Money.java", "src/main/java/com/acme/app/Aaa.java"]),
    "go module path": ("cmd/main.go", ["money/money.go", "cmd/aaa.go"]),
    "rust": ("src/lib.rs", ["src/parser.rs", "src/aaa.rs"]),
    "c include": ("lib/ring.c", ["lib/ring.h", "lib/aaa.c"]),
    "config file": (".github/workflows/ci.yml", []),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    b = RepoBuilder(str(tmp_path_factory.mktemp("ctx") / "repo"))
    b.commit(FILES, "init")
    return b


@pytest.mark.parametrize("case", sorted(CASES))
def test_context_follows_imports_then_neighbours(repo, case: str) -> None:
    touched, expected = CASES[case]
    start = repo.repo.head.peel().tree
    changed = FILES[touched] + "\n// edit\n"
    end_sha = repo.commit({touched: changed}, f"edit {touched}")
    end = repo.repo[end_sha].tree
    ctx = select_context(repo.repo, start, end, {touched: changed}, max_files=2, max_bytes=1 << 20,
                         max_file_bytes=1 << 20)
    assert [c["path"] for c in ctx] == expected
    assert all(c["content"] == FILES[c["path"]] for c in ctx)


def test_triplet_and_fim_resolve_the_same_files(repo) -> None:
    """One resolver: what a FIM target's unit context resolves an import to is what a triplet takes as context."""
    code = {p: c for p, c in FILES.items() if p.endswith((".py", ".ts", ".java", ".go", ".rs", ".c", ".h"))}
    lang = {".py": "python", ".ts": "typescript", ".java": "java", ".go": "go", ".rs": "rust", ".c": "c", ".h": "c"}
    files = [RepoFile(p, c, lang["." + p.rsplit(".", 1)[1]]) for p, c in sorted(code.items())]
    graph = UnitIndex(files).graph
    tree = repo.repo.head.peel().tree
    for touched, expected in CASES.values():
        if touched not in code:
            continue
        ctx = select_context(repo.repo, tree, tree, {touched: code[touched]}, max_files=1, max_bytes=1 << 20,
                             max_file_bytes=1 << 20)
        imported = sorted(graph.imports(touched))
        assert [c["path"] for c in ctx] == imported[:1] == expected[:1], touched
