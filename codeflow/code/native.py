"""The C side of validation (``_native``): loaded once per process, checked, and skipped when it cannot be used.

Why: max depth, function count and comment bytes need every syntax node visited, and line statistics every
character; in Python these two loops cost more than the 15% of a parse that issue 5 allows for all of
validation. ``_native.c`` does both in C (see its header for how the walk reads tree-sitter's trees).

The tree walk reads the runtime's own records, so it is used only with the py-tree-sitter version whose layout
was checked (``CHECKED_VERSIONS``), and only after it agreed with the Python walk on a self-check in this
process. Otherwise — another version, no C compiler at install time, ``CODEFLOW_NATIVE=0`` — validation uses
the Python code, with the same results, more slowly; ``status()`` says which is in use and why.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata

from loguru import logger

CHECKED_VERSIONS = ("0.26.1",)  # py-tree-sitter versions whose Tree / subtree layout _native.c was checked against
ENV = "CODEFLOW_NATIVE"

_module = None  # the _native extension, once imported (line_stats needs nothing else)
_tree_walk: tuple[Callable | None] | None = None  # (walk or None,) once loading was tried in this process
_line_stats: tuple[Callable | None] | None = None
_status = "not loaded yet"
_forced_python = False


class NativeUnavailable(RuntimeError):
    """Why the native code cannot be used here (shown by ``status()``)."""


def _import():
    global _module
    if os.environ.get(ENV, "1") == "0":
        raise NativeUnavailable(f"turned off by {ENV}=0")
    if _module is None:
        try:
            from codeflow.code import _native
        except ImportError as e:
            raise NativeUnavailable(f"extension not built ({e}); reinstall codeflow with a C compiler") from e
        _module = _native
    return _module


def line_stats() -> Callable | None:
    """``line_stats(utf8) -> (lines, max_len, total_len, digits, ascii_alnum, is_ascii)``, or None."""
    global _line_stats
    if _forced_python:
        return None
    if _line_stats is None:
        try:
            _line_stats = (_import().line_stats,)
        except NativeUnavailable:
            _line_stats = (None,)
    return _line_stats[0]


def _load_walk(python_walk: Callable) -> Callable:
    version = metadata.version("tree-sitter")
    if version not in CHECKED_VERSIONS:
        raise NativeUnavailable(f"py-tree-sitter {version} is not a version the C walk was checked against "
                                f"({', '.join(CHECKED_VERSIONS)})")
    module = _import()
    import tree_sitter

    module.init(tree_sitter.Tree)

    def walk(tree, classes: bytes) -> tuple[int, int, int]:
        lang = tree.language
        return module.tree_metrics(tree, tree.root_node.id, lang.abi_version, lang.node_kind_count, classes)

    _self_check(walk, python_walk)
    return walk


def _self_check(walk: Callable, python_walk: Callable) -> None:
    """The C walk must equal the Python walk on whole and truncated files (aliases, extras, ERROR, MISSING)."""
    from codeflow.code.languages import get_parser
    from codeflow.code.validate import _kind_classes

    snippets = {
        "python": b"# c\ndef f(x):\n    '''d'''\n    return [y for y in x if (y and (x or y))]  # t\nclass A:\n"
                  b"    def g(self):\n        pass\n",
        "c": b"/* c */\nint f(int x) { return x ? (x + 1) : 0; } // t\nstruct s { int a; };\n",
        "rust": b"/// d\nfn f<'a>(x: &'a str) -> usize { match x { \"\" => 0, _ => 1 } } // t\n",
        "typescript": b"// c\nconst f = (x: number): string => `${x}`;\n"
                      b"class A<T> { m(): T | null { return null; } }\n",
    }
    for language, code in snippets.items():
        for data in (code, code[: len(code) // 2], code[: len(code) // 3]):
            tree = get_parser(language).parse(data)
            got = walk(tree, _kind_classes(language))
            want = python_walk(tree, language)
            if got != (want["max_depth"], want["function_count"], want["_comment_bytes"]):
                raise NativeUnavailable(f"self-check failed on {language}: C {got} != Python {want}")


def tree_walk(python_walk: Callable) -> Callable | None:
    """``walk(tree, classes) -> (max_depth, function_count, comment_bytes)``, or None (see ``status``).

    Loads and self-checks once per process; ``python_walk`` is the reference the self-check compares against.
    """
    global _tree_walk, _status
    if _forced_python:
        return None
    if _tree_walk is None:
        try:
            _tree_walk, _status = (_load_walk(python_walk),), "native"
        except (NativeUnavailable, ValueError) as e:
            _tree_walk, _status = (None,), f"python: {e}"
            level = "INFO" if ENV in str(e) else "WARNING"
            logger.log(level, f"C tree walk unavailable, AST metrics use the slower Python walk: {e}")
    return _tree_walk[0]


@contextmanager
def python_only() -> Iterator[None]:
    """Use the Python code inside the block (the benchmark times both in one run)."""
    global _forced_python
    before, _forced_python = _forced_python, True
    try:
        yield
    finally:
        _forced_python = before


def status() -> str:
    """``native`` when the C walk is in use, else ``python: <why>`` (after the first ``tree_walk`` call)."""
    return _status
