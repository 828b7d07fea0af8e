"""The lexer's comment-only proof never contradicts the tree-sitter check it spares, and it does spare it.

Each case is (old, new): the reference verdict is ``_strip_comments(old) == _strip_comments(new)`` (tree-sitter),
the proof may answer it or say None (not sure); it must never answer wrong. ``FAST`` cases must be answered.
"""

import re

import pytest

from codeflow.commits import lexproof
from codeflow.commits.scan import _changed_lines, _strip_comments

MODULE = b'''"""Module docstring.

More about the module.
"""
import os

X = """a string that is code"""
TABLE = {
    "key":
    """a dict value, not a docstring""",
}


@decorator(arg="v")
def f(x):
    """Return x.

    Uses \'\'\' inside and "quotes".
    """
    # a comment
    y = f"{x!r:>{10}}"  # an f-string
    return os.path.join(x, "#not a comment")  # trailing


class C(Base):
    """Class docstring."""

    attr = 1
    """Attribute docstring."""

    def method(
        self,
        arg: int,
    ) -> int:
        """Method docstring."""
        return arg


s = """doc""".strip()
t = 1; """after a semicolon"""
u = 1 + \\
    2


def g():
    """Doc of g."""; return 1
'''


def hunks(old: bytes, new: bytes) -> list[tuple[int, int, int, int]]:
    return [(h[0], h[1], h[4], h[5]) for h in _changed_lines(old, new)]


def verdicts(old: bytes, new: bytes, lang: str) -> tuple[bool | None, bool]:
    proof = lexproof.comment_only(lang, old, new, hunks(old, new))
    return proof, _strip_comments(old, lang) == _strip_comments(new, lang)


def edit(base: bytes, *pairs: tuple[bytes, bytes]) -> bytes:
    for a, b in pairs:
        assert base.count(a) == 1, a
        base = base.replace(a, b)
    return base


# (name, edits, expected proof): True / False = must be answered so; None = must fall back to the parse
PY_CASES = [
    ("docstring body", [(b"More about the module.", b"More about\nthe module, reflowed.")], True),
    ("function docstring after a decorator", [(b"Return x.", b"Return x unchanged.")], True),
    ("nested triple quotes in a docstring", [(b"Uses ''' inside", b"Uses ''' and \"\"\" inside")], None),
    ("nested other quotes in a docstring", [(b"Uses ''' inside", b"Uses ''' still inside")], True),
    ("class docstring", [(b'"""Class docstring."""', b'"""Class docstring, longer."""')], True),
    ("attribute docstring", [(b'"""Attribute docstring."""', b'"""Attribute doc."""')], True),
    ("method docstring under a multi-line header", [(b"Method docstring.", b"Method doc.")], True),
    ("comment line", [(b"# a comment", b"# another comment\n    # and one more")], True),
    ("trailing comment", [(b"# trailing", b"#   trailing, reworded")], True),
    ("two docstrings, lines shift between", [(b"More about the module.", b"More\nabout\nthe module."),
                                             (b"Method docstring.", b"Method doc.")], True),
    ("delete a docstring", [(b'        """Method docstring."""\n', b"")], True),
    ("reindent code while deleting a docstring", [(b'    """Method docstring."""\n', b"")], None),
    ("swap docstring quotes", [(b'"""Class docstring."""', b"'''Class docstring.'''")], True),
    ("reindent a docstring line", [(b"    Uses ''' inside", b"        Uses ''' inside")], True),
    ("string that is code", [(b"a string that is code", b"changed code")], None),
    ("dict value after a colon", [(b"a dict value, not a docstring", b"changed value")], None),
    ("string with a method call", [(b's = """doc""".strip()', b's = """changed""".strip()')], None),
    ("same line as a semicolon", [(b"after a semicolon", b"changed after a semicolon")], None),
    ("code after the closing quote", [(b"Doc of g.", b"Doc of g, longer.")], None),
    ("f-string code", [(b'f"{x!r:>{10}}"', b'f"{x!s:>{10}}"')], None),
    ("a '#' inside a string", [(b'"#not a comment"', b'"#changed"')], None),
    ("docstring becomes code", [(b'    """Class docstring."""', b'    X = """Class docstring."""')], None),
    ("hunk opens a string that swallows code", [(b"    return os", b'    """\n    return os')], None),
    ("continuation line before a string", [(b"u = 1 + \\\n    2", b'u = 1 + \\\n    """two"""')], None),
    ("code change", [(b"attr = 1", b"attr = 2")], None),
    ("comment becomes code", [(b"# a comment", b"z = 1")], None),
]


@pytest.mark.parametrize("name,pairs,expected", PY_CASES, ids=[c[0] for c in PY_CASES])
def test_python_proof_agrees_with_the_parse(name, pairs, expected):
    new = edit(MODULE, *pairs)
    proof, truth = verdicts(MODULE, new, "python")
    assert proof is None or proof == truth, (proof, truth)
    assert proof == expected, (proof, truth)


UNSURE_FILES = [
    b'x = f"{"nested"}"\n"""doc"""\n',  # PEP 701 nested quotes: the lexer does not guess
    b'x = f"{d[\'k\'] + \'}\'}"\n"""doc"""\n',
    b'"""doc"""\nx = (1,\n',  # unbalanced brackets at the end of the file
    b'"""doc"""\nx = "unterminated\n',
    b'"""doc"""\r"""old mac line ends"""\n',
    b'@decorator\n"""doc"""\ndef f(): pass\n',  # not a statement the parse can be trusted on
    b'def f():\n"""doc"""\n',
    b'x = 1\n    """doc"""\n',
    b'if x: """doc"""\n',
    b'f"""doc"""\n',  # an f-string statement: its replacement fields are code to a reader
    b'\tdef f():\n\t\t"""doc"""\n',  # tabs: indentation the lexer does not compare
]


@pytest.mark.parametrize("text", UNSURE_FILES)
def test_python_proof_stays_out_of_what_it_cannot_be_sure_of(text):
    new = text.replace(b"doc", b"changed doc")
    proof, truth = verdicts(text, new, "python")
    assert proof is None, truth


GO = b'''package main

// Area of a rectangle.
/* Block comment
   spanning lines. */
var glob = "**/*.go" // a glob, not a comment opener
var raw = `raw /* not a comment
// still raw`
var r = '"'

func area(w, h int) int { return w * h } // trailing
'''

GO_CASES = [
    ("line comment", [(b"Area of a rectangle.", b"Area of a rectangle, in square units.")], True),
    ("block comment", [(b"spanning lines.", b"spanning\n   several lines.")], True),
    ("trailing comment", [(b"// trailing", b"// trailing, longer")], True),
    ("string holding a comment opener", [(b'"**/*.go"', b'"**/*_test.go"')], False),
    ("raw string", [(b"// still raw", b"// changed raw")], False),
    ("code", [(b"return w * h", b"return w * h * 1")], False),
    ("whitespace in code", [(b"return w * h", b"return w*h")], True),
]


@pytest.mark.parametrize("name,pairs,expected", GO_CASES, ids=[c[0] for c in GO_CASES])
def test_go_proof_is_exact_both_ways(name, pairs, expected):
    new = edit(GO, *pairs)
    proof, truth = verdicts(GO, new, "go")
    assert proof == truth == expected


RUST = b'''//! Crate docs.
#[derive(Debug)]
struct S(&'static str);
use std::fmt;

/// Outer doc comment.
/* block /* nested */ comment */
fn f<'a>(x: &'a str) -> char {
    let glob = "**/*.rs"; // a glob
    let raw = r#"raw "/* quoted" "#;
    let c = '"';
    'x'
}
'''

RUST_CASES = [
    ("doc comment", [(b"Outer doc comment.", b"Outer doc comment, reworded.")], True),
    ("inner doc comment", [(b"Crate docs.", b"Crate documentation.")], True),
    ("raw string", [(b'raw "/* quoted"', b'raw "/* quoted twice"')], False),
    ("glob string", [(b'"**/*.rs"', b'"**/*.rs.bak"')], False),
    ("code after a lifetime", [(b"'x'\n}", b"'y'\n}")], False),
]


@pytest.mark.parametrize("name,pairs,expected", RUST_CASES, ids=[c[0] for c in RUST_CASES])
def test_rust_proof_is_exact_both_ways(name, pairs, expected):
    base = RUST.replace(b"/* block /* nested */ comment */\n", b"")  # nested block comments: see below
    new = edit(base, *pairs)
    proof, truth = verdicts(base, new, "rust")
    assert proof == truth == expected


def test_rust_nested_block_comment_falls_back():
    new = RUST.replace(b"Outer doc comment.", b"Outer doc.")
    proof, truth = verdicts(RUST, new, "rust")
    assert proof is None and truth


def test_languages_without_a_lexer_always_parse():
    java = b"class A {\n  // c\n  int x = 1;\n}\n"
    assert lexproof.comment_only("java", java, java.replace(b"// c", b"// d"), [(2, 2, 1, 1)]) is None


def test_scanner_verdicts_are_the_same_with_and_without_the_proof(tmp_path, monkeypatch):
    """Every case above as a commit of a real repository: the endpoint filter answers exactly what the parse-only
    path answers, and the proof spared the parse for the commits it settled."""
    import pygit2

    from codeflow.commits.config import TripletConfig
    from codeflow.commits.history import first_parent_history
    from codeflow.commits.scan import Scanner
    from tests.commits.gitbuild import RepoBuilder

    b = RepoBuilder(str(tmp_path / "r"))
    b.commit({"pkg/mod.py": MODULE, "cmd/main.go": GO, "src/lib.rs": RUST}, "Create the three modules of the tool")
    for path, base, cases in (("pkg/mod.py", MODULE, PY_CASES), ("cmd/main.go", GO, GO_CASES),
                              ("src/lib.rs", RUST, RUST_CASES)):
        for name, pairs, _ in cases:
            b.commit({path: edit(base, *pairs)}, f"Change the module: {name}")
            b.commit({path: base}, f"Restore the module after: {name}")
    repo = pygit2.Repository(str(tmp_path / "r"))
    ids = first_parent_history(repo)

    def run() -> tuple[list[str | None], int]:
        scanner = Scanner(repo, ids, TripletConfig())
        parses = []
        real = scanner._stripped_pair
        monkeypatch.setattr(scanner, "_stripped_pair", lambda *a: parses.append(a[0].path) or real(*a))
        return [scanner.endpoint_filter(scanner.get(r)) for r in range(len(ids))], len(parses)

    with_proof, parsed = run()
    monkeypatch.setattr(lexproof, "comment_only", lambda *a, **k: None)
    without, parsed_all = run()
    assert with_proof == without
    assert with_proof.count("comment_only") >= 20
    assert parsed_all - parsed >= 30, (parsed, parsed_all)  # the proof settled 30+ files the parse would read


# The delimiter scan as first written: strings, line comments and delimiters as tokens, each through Python.
_SCAN = {"python": re.compile(rb'"""|\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*'),
         "slash": re.compile(rb'/\*|\*/|"(?:[^"\\\n]|\\.)*"|//[^\n]*')}


def _open_blocks_reference(data: bytes, lines: list[int], family: str) -> list[bool]:
    """The delimiter scan as first written: every ``_SCAN`` token through Python (the code keeps its semantics)."""
    wanted = sorted(set(lines))
    offsets: dict[int, int] = {}
    pos, line = 0, 1
    for target in wanted:
        while line < target:
            nxt = data.find(b"\n", pos)
            if nxt < 0:
                break
            pos, line = nxt + 1, line + 1
        offsets[target] = pos
    state, at, it = None, {}, iter(wanted)
    target = next(it, None)
    for m in _SCAN[family].finditer(data, 0, offsets[wanted[-1]]):
        while target is not None and offsets[target] <= m.start():
            at[target] = state is not None
            target = next(it, None)
        tok = m.group()
        if family == "python":
            if tok in (b'"""', b"'''"):
                state = tok if state is None else (None if tok == state else state)
        elif tok == b"/*":
            state = state or tok
        elif tok == b"*/":
            state = None
    while target is not None:
        at[target] = state is not None
        target = next(it, None)
    return [at[x] for x in lines]


@pytest.mark.parametrize("family,alphabet", [("python", b"\"\"\"'''#\\\nab "), ("slash", b'/**/"\\\nab ')])
def test_delimiter_scan_matches_its_reference(family, alphabet):
    """The one-match-per-delimiter scan gives the same answers as the token-by-token one, on random text full of
    quotes, escapes, comment markers and newlines, and on the fixtures above."""
    import random

    from codeflow.commits.scan import _open_blocks

    rng = random.Random(7)
    texts = [MODULE, GO, RUST] + [bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 400)))
                                  for _ in range(400)]
    for text in texts:
        n = text.count(b"\n") + 3
        lines = sorted(rng.sample(range(1, n + 1), min(n, 6)))
        assert _open_blocks(text, lines, family) == _open_blocks_reference(text, lines, family), text


@pytest.mark.parametrize("lang,base", [("python", MODULE), ("go", GO),
                                       ("rust", RUST.replace(b"/* block /* nested */ comment */\n", b""))])
def test_relexing_an_edit_gives_the_full_lexing(lang, base):
    """The new side is lexed only around the edit (``base`` = the old side): the same tokens, the same verdict on
    whether the lexer is sure, as lexing the whole new file, for random edits made of the lexers' hard bytes."""
    import random

    rng = random.Random(11)
    lexer = lexproof.LEXERS[lang]
    pieces = [b'"', b"'", b'"""', b"#", b"\\", b"\n", b"/*", b"*/", b"//", b"`", b'r#"', b'"#', b"x", b" ", b"(", b")"]
    old = lexproof.Lexed(base, lexer)
    assert old.ok
    for _ in range(300):
        a = rng.randrange(len(base) + 1)
        b = min(len(base), a + rng.randrange(0, 40))
        new = base[:a] + b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 6))) + base[b:]
        full, relexed = lexproof.Lexed(new, lexer), lexproof.Lexed(new, lexer, base=old)
        assert relexed.ok == full.ok, new
        if full.ok:
            assert (relexed.starts, relexed.ends) == (full.starts, full.ends), new


@pytest.mark.parametrize("text,expected", [
    (b'# a comment ending in a backslash \\\ndef f():\n    """doc"""\n', True),  # no continuation in a comment
    (b'x = 1 + \\\n    2\ndef f():\n    """doc"""\n', True),
    (b'x = lambda:\\\n    """doc"""\n', None),  # a lambda's colon opens no block
    (b'x: \\\n    """doc"""\n', None),
    (b'class A:\n    def f(\n        self,\n    ) -> int:\n        """doc"""\n', True),
])
def test_python_block_headers_and_continuations(text, expected):
    new = text.replace(b"doc", b"changed doc")
    proof, truth = verdicts(text, new, "python")
    assert proof is None or proof == truth
    assert proof == expected, truth
