"""The C side of validation: same results as the Python code, refuses what it cannot use, optional.

The C walk is checked against the recursive reference in ``test_tree_metrics.py``; here: that ``check`` (C parse
+ walk or first error) equals ``python_check`` (py-tree-sitter) on whole and cut files, that it refuses
non-grammars and a runtime that differs from py-tree-sitter's, that ``line_stats`` splits lines exactly like
``str.splitlines``, and that validation without the extension (turned off, or never built: a machine without a C
compiler) gives the same verdicts and byte-identical shards. Tests that need the extension skip where it is not
built; the fallback tests run everywhere.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codeflow.code import native
from codeflow.code.languages import grammar_binding
from codeflow.code.validate import _kind_classes, line_metrics, native_status, python_check
from tests.code.helpers import sample_files

ROOT = Path(__file__).resolve().parents[2]
# Verdicts of every sample file, whole and cut in half (syntax errors), printed by a child process.
VERDICTS = (
    "import json, sys\n"
    "from codeflow.code import native\n"
    "from codeflow.code.validate import validate_file\n"
    "files = json.load(sys.stdin)\n"
    "out = {p + cut: [v.reason, v.detail, v.language, v.metrics] for p, d in files.items()"
    " for cut, b in (('', d.encode('latin-1')), ('[:1/2]', d.encode('latin-1')[:len(d) // 2]))"
    " for v in [validate_file(p, b, len(b))]}\n"
    "print(json.dumps({'status': native.status(), 'verdicts': out}, sort_keys=True))\n")
BLOCK_EXTENSION = "import sys; sys.modules['codeflow.code._native'] = None\n"  # as if it was never built


def _check():
    check = native.checker(python_check, _kind_classes)
    if check is None:
        pytest.skip(f"C extension not in use here: {native.status()}")
    return check


def _verdicts(prelude: str = "", env: dict | None = None) -> dict:
    payload = json.dumps({p: d.decode("latin-1") for p, d in sorted(sample_files().items())})
    proc = subprocess.run([sys.executable, "-c", prelude + VERDICTS], input=payload, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=True, cwd=ROOT)
    return json.loads(proc.stdout)


def test_runtime_pin_is_the_py_tree_sitter_pin() -> None:
    """setup.py builds the runtime of the pinned py-tree-sitter: upgrading one without the other fails here."""
    pin = re.search(r'"tree-sitter==([^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert re.search(r'^TS_VERSION = "([^"]+)"', (ROOT / "setup.py").read_text(), re.MULTILINE).group(1) == pin
    assert metadata.version("tree-sitter") == pin


def test_c_check_equals_python_check_on_whole_and_cut_files() -> None:
    check = _check()
    assert native_status() == native.status() == "native"
    from codeflow.code.languages import language_for_path

    compared = errors = 0
    for path, data in sorted(sample_files().items()):
        lang = language_for_path(path, data[:200].split(b"\n", 1)[0])
        if not lang:
            continue
        for cut in (data, data[: len(data) // 2], data[: len(data) // 3], data[: len(data) // 5]):
            for classes in (_kind_classes(lang), None):
                got, want = check(cut, lang, classes), python_check(cut, lang, classes)
                assert tuple(got) == tuple(want), (path, len(cut))
                compared += 1
                errors += got[0] is not None
    assert compared >= 200 and errors >= 40  # clean trees and error sites both compared


def test_refuses_what_is_not_a_grammar() -> None:
    _check()
    from codeflow.code import _native

    with pytest.raises((TypeError, ValueError)):
        _native.new_parser(object())
    with pytest.raises((TypeError, ValueError)):
        _native.new_parser(_native.new_parser(grammar_binding("python")))  # a capsule, but not a TSLanguage
    parser = _native.new_parser(grammar_binding("python"))
    with pytest.raises(ValueError, match="65536"):
        _native.check(parser, b"x = 1\n", b"\x00" * 10)
    with pytest.raises((TypeError, ValueError)):
        _native.check(grammar_binding("python"), b"x = 1\n", None)


def test_refuses_an_extension_built_from_another_runtime(monkeypatch) -> None:
    """Another runtime could build other trees than py-tree-sitter: the fallback would not give the same lake."""
    _check()
    monkeypatch.setattr(native.metadata, "version", lambda name: "0.0.1")
    with pytest.raises(native.NativeUnavailable, match="built from tree-sitter .* but py-tree-sitter 0.0.1"):
        native._load(python_check, _kind_classes)


def test_deep_trees_do_not_overflow_the_stack() -> None:
    """Left-recursive chains nest one level per operator: 200k levels would overflow a recursive C walk."""
    check = _check()
    data = b"x = " + b"1 + " * 200_000 + b"1\n"
    got = check(data, "python", _kind_classes("python"))
    assert got[2] > 200_000
    assert tuple(got) == tuple(python_check(data, "python", _kind_classes("python")))


def test_threads_sharing_the_parsers_stay_right() -> None:
    check = _check()
    data = b"\n".join(sample_files()[p] for p in sorted(sample_files()) if p.endswith(".py"))
    want = tuple(python_check(data, "python", _kind_classes("python")))
    results: list = []
    threads = [threading.Thread(target=lambda: results.extend(
        tuple(check(data, "python", _kind_classes("python"))) for _ in range(5))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [want] * 20


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


def test_without_the_extension_the_verdicts_are_the_same() -> None:
    """Never built (no C compiler) and turned off both run the Python code, with the same verdicts and details."""
    not_built = _verdicts(BLOCK_EXTENSION)
    assert not_built["status"].startswith("python: extension not built")
    off = _verdicts(env={native.ENV: "0"})
    assert off["status"] == f"python: turned off by {native.ENV}=0"
    with native.python_only():
        assert native_status().startswith("python")
    on = _verdicts()
    assert on["verdicts"] == off["verdicts"] == not_built["verdicts"]
    reasons = [v[0] for v in on["verdicts"].values()]
    assert reasons.count(None) >= 30 and reasons.count("syntax_error") >= 20
    assert all(v[3]["max_depth"] > 0 for v in on["verdicts"].values() if v[0] is None)


def test_shards_are_byte_identical_with_and_without_the_c_code(tmp_path, cli) -> None:
    """A machine without a C compiler writes the same lake: same metrics, same Parquet bytes."""
    from .gitrepo import make_repo

    make_repo(str(tmp_path / "sample"), sample_files())
    lst = tmp_path / "list.txt"
    lst.write_text("sample\n")
    code, output = cli("--quiet", "code", "--repos", str(lst), "--out", str(tmp_path / "on"))
    assert code == 0, output
    proc = subprocess.run([str(Path(sys.executable).parent / "codeflow"), "--log-level", "INFO", "code", "--repos",
                           str(lst), "--out", str(tmp_path / "off")], capture_output=True, text=True,
                          env={**os.environ, native.ENV: "0"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"turned off by {native.ENV}=0" in proc.stdout + proc.stderr  # the Python code really ran there
    shards = sorted(p.relative_to(tmp_path / "on") for p in (tmp_path / "on").rglob("*.parquet"))
    assert len(shards) == 2  # kept + rejects
    for rel in shards:
        assert (tmp_path / "on" / rel).read_bytes() == (tmp_path / "off" / rel).read_bytes(), rel
