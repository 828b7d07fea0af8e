"""The C side of validation: built in this environment, guarded against the wrong tree, same results as Python.

The C tree walk is checked against the recursive reference in ``test_tree_metrics.py``; here: that
``make install`` really built and enabled it (the ≤ 15% overhead of issue 5 depends on it), that it refuses a
tree it cannot vouch for, that ``line_stats`` splits lines exactly like ``str.splitlines``, and that turning the
C code off changes nothing but speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codeflow.code import native
from codeflow.code.languages import get_parser
from codeflow.code.validate import _kind_classes, _python_tree_metrics, line_metrics, tree_metrics, validate_file
from tests.code.helpers import sample_files


def _walk():
    walk = native.tree_walk(_python_tree_metrics)
    assert walk is not None, native.status()
    return walk


def test_c_walk_is_built_and_enabled() -> None:
    _walk()
    assert native.status() == "native"
    assert native.line_stats() is not None


def test_refuses_a_tree_it_cannot_vouch_for() -> None:
    from codeflow.code import _native

    _walk()
    parser = get_parser("python")
    a, b = parser.parse(b"x = 1\n"), parser.parse(b"y = 2\n")
    lang, classes = a.language, _kind_classes("python")
    with pytest.raises(ValueError, match="does not hold the tree"):
        _native.tree_metrics(a, b.root_node.id, lang.abi_version, lang.node_kind_count, classes)
    with pytest.raises(ValueError, match="does not match its grammar"):
        _native.tree_metrics(a, a.root_node.id, lang.abi_version, lang.node_kind_count + 1, classes)
    with pytest.raises(TypeError):
        _native.tree_metrics(a.root_node, a.root_node.id, lang.abi_version, lang.node_kind_count, classes)
    with pytest.raises(ValueError, match="65536"):
        _native.tree_metrics(a, a.root_node.id, lang.abi_version, lang.node_kind_count, b"\x00" * 10)


def test_deep_trees_do_not_overflow_the_stack() -> None:
    """Left-recursive chains nest one level per operator: 200k levels would overflow a recursive C walk."""
    data = b"x = " + b"1 + " * 200_000 + b"1\n"
    tree = get_parser("python").parse(data)
    got = tree_metrics(tree, "python")
    assert got["max_depth"] > 200_000
    assert got == _python_tree_metrics(tree, "python")


def test_walk_releases_the_gil_and_stays_right_across_threads() -> None:
    walk = _walk()
    data = b"\n".join(sample_files()[p] for p in sorted(sample_files()) if p.endswith(".py"))
    tree = get_parser("python").parse(data)
    classes = _kind_classes("python")
    want = _python_tree_metrics(tree, "python")
    want = (want["max_depth"], want["function_count"], want["_comment_bytes"])
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(walk(tree, classes))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [want] * 4


SEPARATORS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(SEPARATORS), st.text(max_size=12)), max_size=30))
def test_line_stats_equal_splitlines(parts: list[str]) -> None:
    content = "".join(parts)
    data = content.encode("utf-8")
    fast = line_metrics(content, data)
    with native.python_only():
        slow = line_metrics(content, data)
    assert fast == slow


@pytest.mark.parametrize("content", ["", "\n", "\r\n\r\n", "a\rb", "a\n", "é😀\u2028x", "\ufeffa", "x" * 1000])
def test_line_stats_edge_cases(content: str) -> None:
    data = content.encode("utf-8")
    with native.python_only():
        want = line_metrics(content, data)
    assert line_metrics(content, data) == want
    assert want["lines"] == max(1, len(content.splitlines()))


def test_turned_off_gives_the_same_verdicts() -> None:
    files = dict(sorted(sample_files().items()))
    script = (
        "import json, sys\n"
        "from codeflow.code import native\n"
        "from codeflow.code.validate import validate_file\n"
        "files = json.load(sys.stdin)\n"
        "out = {p: [v.reason, v.language, v.metrics] for p, d in files.items()"
        " for v in [validate_file(p, d.encode('latin-1'), len(d))]}\n"
        "print(json.dumps({'status': native.status(), 'verdicts': out}, sort_keys=True))\n")
    payload = json.dumps({p: d.decode("latin-1") for p, d in files.items()})
    proc = subprocess.run([sys.executable, "-c", script], input=payload, capture_output=True, text=True,
                          env={**os.environ, native.ENV: "0"}, check=True)
    off = json.loads(proc.stdout)
    assert off["status"].startswith(f"python: turned off by {native.ENV}=0")
    on = {p: [v.reason, v.language, v.metrics] for p, d in files.items() for v in [validate_file(p, d, len(d))]}
    assert native.status() == "native"
    assert json.loads(json.dumps(on, sort_keys=True)) == off["verdicts"]
    assert sum(v[0] is None and v[2]["max_depth"] > 0 for v in on.values()) >= 30


def test_shards_are_byte_identical_with_and_without_the_c_code(tmp_path, cli) -> None:
    """A machine without a C compiler writes the same lake: same metrics, same Parquet bytes."""
    from pathlib import Path

    from .gitrepo import make_repo

    make_repo(str(tmp_path / "sample"), sample_files())
    lst = tmp_path / "list.txt"
    lst.write_text("sample\n")
    code, output = cli("--quiet", "code", "--repos", str(lst), "--out", str(tmp_path / "on"))
    assert code == 0, output
    assert native.status() == "native"
    proc = subprocess.run([str(Path(sys.executable).parent / "codeflow"), "--log-level", "INFO", "code", "--repos",
                           str(lst), "--out", str(tmp_path / "off")], capture_output=True, text=True,
                          env={**os.environ, native.ENV: "0"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"turned off by {native.ENV}=0" in proc.stdout + proc.stderr  # the Python walk really ran there
    shards = sorted(p.relative_to(tmp_path / "on") for p in (tmp_path / "on").rglob("*.parquet"))
    assert len(shards) == 2  # kept + rejects
    for rel in shards:
        assert (tmp_path / "on" / rel).read_bytes() == (tmp_path / "off" / rel).read_bytes(), rel
