"""Which parse errors are the grammar's, not the file's: errors inside macro token trees and preprocessor lines.

A tree-sitter grammar parses the language as written, but some text is not the language's grammar at all:

- **Rust macros.** A ``macro_rules!`` body or a macro invocation's arguments are *token trees*: any valid Rust
  tokens with balanced delimiters, read by the macro, not by the grammar. tree-sitter-rust lexes them with the
  grammar's token set and reports ``ERROR`` for tokens it lacks (``~`` in anyhow's ``ensure!`` matchers).
  Rust 2015 code calls the ``try!`` macro, whose name is a keyword since the 2018 edition, so the grammar
  reports the ``try`` of ``try!(...)`` (old ripgrep, hundreds of crates on crates.io).
- **C preprocessor.** Directives are lines of their own language: tree-sitter-c fails on some valid ones
  (``#if __has_include(<x.h>)``, the null directive ``#``), and a region under ``#if 0`` is never compiled, so
  what is inside need not be C at all.

An error is tolerated only when it is exactly one of these: an ``ERROR`` node whose nearest non-error ancestor
is a Rust token tree and whose text is made of Rust token characters only (no delimiter, quote, backslash or
backtick: an unbalanced bracket or an unterminated string inside a macro is still a syntax error);
the ``try !`` of an edition-2015 call; an ``ERROR`` lying wholly on preprocessor lines; any error inside an
``#if 0`` region. One error anywhere else and the file is a ``syntax_error`` as before, reported at that error.

``tolerate(root, data, language)`` returns what kind of errors were tolerated, or the first error that was not.
It runs only on the rare files whose parse had errors, on the py-tree-sitter tree, so the C and Python
validation paths decide alike.
"""

from __future__ import annotations

from typing import NamedTuple

# Languages with rules here; the others never reach a second parse.
RUST = frozenset({"rust"})
C_FAMILY = frozenset({"c", "cpp", "cuda", "objc"})
LANGUAGES = RUST | C_FAMILY

_RUST_TOKEN_TREES = frozenset({"token_tree", "token_tree_pattern", "token_repetition", "token_repetition_pattern"})
# What a Rust token the grammar lacks may consist of: identifier / number characters and Rust's punctuation.
# Never delimiters, quotes, backslashes, backticks or other bytes rustc itself rejects: an unbalanced bracket or
# an unterminated string inside a macro is a real error.
_RUST_TOKEN_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ \t\r\n"
                              b"+-*/%^!&|<>=@.,;:#$?~")


class Tolerance(NamedTuple):
    """``kinds``: the kinds of tolerated errors, sorted (``macro``, ``preprocessor``); ``errors``: how many;
    ``blocking``: the first error node that is not tolerated (None when every error is)."""

    kinds: tuple[str, ...]
    errors: int
    blocking: object | None


def error_nodes(root) -> list:
    """Every ERROR / MISSING node in document order, not descending into an ERROR (its inside is one error)."""
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            out.append(node)
            continue
        stack.extend(reversed([c for c in node.children if c.has_error or c.is_missing]))
    return out


def tolerate(root, data: bytes, language: str) -> Tolerance:
    """Classify the errors of a parse with errors (see the module docstring)."""
    kinds: set[str] = set()
    errors = error_nodes(root)
    for node in errors:
        kind = _rust_kind(node, data) if language in RUST else _c_kind(node, data) if language in C_FAMILY else None
        if kind is None:
            return Tolerance(tuple(sorted(kinds)), len(errors), node)
        kinds.add(kind)
    return Tolerance(tuple(sorted(kinds)), len(errors), None)


def _rust_kind(node, data: bytes) -> str | None:
    if node.is_missing:
        return None
    parent = node.parent
    while parent is not None and parent.is_error:
        parent = parent.parent
    text = data[node.start_byte:node.end_byte]
    if parent is not None and parent.type in _RUST_TOKEN_TREES and text.strip() and set(text) <= _RUST_TOKEN_BYTES:
        return "macro"
    # Edition 2015 ``try!(expr)``: the grammar stops at the keyword ``try``; what follows is a token tree.
    if [c.type for c in node.children] == ["try", "!"] and data[node.end_byte:].lstrip()[:1] in (b"(", b"[", b"{"):
        return "macro"
    return None


def _c_kind(node, data: bytes) -> str | None:
    if _inside_if_zero(node, data):
        return "preprocessor"
    if node.is_missing or node.start_byte == node.end_byte:
        return None
    return "preprocessor" if _on_directive_lines(data, node.start_byte, node.end_byte) else None


def _inside_if_zero(node, data: bytes) -> bool:
    """Whether ``node`` lies in the body of an ``#if 0`` (not in its ``#else`` / ``#elif`` branch)."""
    child, parent = node, node.parent
    while parent is not None:
        if parent.type == "preproc_if":
            cond = parent.child_by_field_name("condition")
            alternative = parent.child_by_field_name("alternative")
            if (cond is not None and data[cond.start_byte:cond.end_byte].strip() == b"0"
                    and child.start_byte >= cond.end_byte
                    and (alternative is None or child.end_byte <= alternative.start_byte)):
                return True
        child, parent = parent, parent.parent
    return False


def _on_directive_lines(data: bytes, start: int, end: int) -> bool:
    """Whether every line that ``data[start:end]`` touches is a preprocessor line (``#...`` and its ``\\``
    continuations)."""
    line_start = data.rfind(b"\n", 0, start) + 1
    continued = False
    # The directive that the first line continues, if the line before ends with a backslash.
    prev_end = line_start - 1
    while prev_end > 0:
        prev_start = data.rfind(b"\n", 0, prev_end) + 1
        prev = data[prev_start:prev_end].rstrip(b"\r")
        if not prev.endswith(b"\\"):
            break
        if prev.lstrip().startswith(b"#"):
            continued = True
            break
        prev_end = prev_start - 1
    pos = line_start
    while pos < end:
        nl = data.find(b"\n", pos)
        line = data[pos:nl if nl >= 0 else len(data)].rstrip(b"\r")
        if not (continued or line.lstrip().startswith(b"#")):
            return False
        continued = line.endswith(b"\\")
        if nl < 0:
            break
        pos = nl + 1
    return True
