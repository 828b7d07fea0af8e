"""The C side of validation (``_native``): loaded once per process, checked, and skipped when it cannot be used.

Why: max depth, function count and comment bytes need every syntax node visited, and line statistics every
character; in Python these two loops cost 35-45% of a parse, over the 25% that issue 12 allows for all of
validation. ``_native.c`` does both in C through tree-sitter's public C API only: it parses with its own copy of
the tree-sitter runtime, built from the released source of the pinned py-tree-sitter version, using the
``TSLanguage*`` capsule each grammar package exports, and walks that tree (see its header).

Same runtime source, grammar and bytes give the same tree as py-tree-sitter's, so results do not depend on
whether the extension is there: it is used only when its runtime version equals the installed py-tree-sitter's,
and only after it agreed with the Python code on a self-check in the process. Otherwise — another version, no C
compiler or no sdist at install time, ``CODEFLOW_NATIVE=0`` — validation uses the Python code, with the same
results, more slowly; ``status()`` says which is in use and why.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata

from loguru import logger

from codeflow.code.languages import grammar_binding

ENV = "CODEFLOW_NATIVE"
# check(data, language, classes | None) -> (error site | None, node_count, max_depth, function_count, comment_bytes)
Check = Callable[[bytes, str, "bytes | None"], tuple]

_module = None  # the _native extension, once imported (line_stats needs nothing else)
_check: tuple[Check | None] | None = None  # (check or None,) once loading was tried in this process
_line_stats: tuple[Callable | None] | None = None
_status = "not loaded yet"
_forced_python = False

# Snippets the C code must agree with the Python code on, whole and cut (aliases, extras, ERROR, MISSING).
SELF_CHECK = {
    "python": b"# c\ndef f(x):\n    '''d'''\n    return [y for y in x if (y and (x or y))]  # t\nclass A:\n"
              b"    def g(self):\n        pass\n",
    "c": b"/* c */\nint f(int x) { return x ? (x + 1) : 0; } // t\nstruct s { int a; };\n",
    "rust": b"/// d\nfn f<'a>(x: &'a str) -> usize { match x { \"\" => 0, _ => 1 } } // t\n",
    "typescript": b"// c\nconst f = (x: number): string => `${x}`;\nclass A<T> { m(): T | null { return null; } }\n",
}


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


def _load(reference: Check, classes_for: Callable[[str], bytes]) -> Check:
    module = _import()
    installed = metadata.version("tree-sitter")
    if module.RUNTIME_VERSION != installed:
        raise NativeUnavailable(f"extension built from tree-sitter {module.RUNTIME_VERSION}, but py-tree-sitter "
                                f"{installed} is installed; reinstall codeflow to rebuild it")
    parsers: dict[str, object | None] = {}  # per language; None: its grammar cannot be used from C here

    def parser_for(language: str) -> object | None:
        if language not in parsers:
            try:
                parsers[language] = module.new_parser(grammar_binding(language))
            except (TypeError, ValueError) as e:  # not a TSLanguage capsule, or an ABI this runtime lacks
                logger.warning(f"{language}: C parse unavailable, this language uses the Python code: {e}")
                parsers[language] = None
        return parsers[language]

    def check(data: bytes, language: str, classes: bytes | None) -> tuple:
        parser = parser_for(language)
        if parser is None:
            return reference(data, language, classes)
        return module.check(parser, data, classes)

    for language, code in SELF_CHECK.items():
        for data in (code, code[: len(code) // 2], code[: len(code) // 3]):
            for classes in (classes_for(language), None):
                got, want = check(data, language, classes), reference(data, language, classes)
                if tuple(got) != tuple(want):
                    raise NativeUnavailable(f"self-check failed on {language}: C {got} != Python {want}")
    return check


def checker(reference: Check, classes_for: Callable[[str], bytes]) -> Check | None:
    """The C ``check``, or None (see ``status``): loaded and self-checked once per process.

    ``reference`` is the Python code it must agree with; ``classes_for(language)`` the kind-class table.
    """
    global _check, _status
    if _forced_python:
        return None
    if _check is None:
        try:
            _check, _status = (_load(reference, classes_for),), "native"
        except NativeUnavailable as e:
            _check, _status = (None,), f"python: {e}"
            level = "INFO" if ENV in str(e) else "WARNING"
            logger.log(level, f"C parse and tree walk unavailable, validation uses the slower Python code: {e}")
    return _check[0]


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
    """``native`` when the C code is in use, else ``python: <why>`` (after the first ``checker`` call)."""
    return "python: inside python_only()" if _forced_python else _status
