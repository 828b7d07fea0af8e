"""Views of one file inside a triplet's text: the whole file, its touched definitions, hunk windows, or nothing.

Why views: a triplet that copies whole files before and after spends ~90% of its tokens on code the change does
not touch, and a 32k training cut then keeps the old files and drops the patch. A view keeps a subset of the
file's lines, in order, and replaces every left-out run by one elision line ``⋮ N lines`` (``ELISION`` of the
repo-level FIM context, ``codeflow.fim.units``), so the view is a faithful projection of the file:
``is_projection(view, text)`` re-checks it, and the row still stores the whole files (``files_old`` /
``files_new``) on which the apply invariant is tested.

Levels, from richest to smallest (``LEVELS``):

- ``whole``: every line;
- ``defs``: each changed line range with its innermost enclosing definition (function / method / class, the
  function-level node types of the language registry, found with the tree-sitter query of ``codeflow.fim
  .ast_split``) whole when it has at most ``DEF_MAX_LINES`` lines, else a ``DEFS_WINDOW``-line window; plus the
  header lines (decorators, signature) of every enclosing definition, so the reader knows where it is;
- ``windows``: ``WINDOW`` lines around each change plus the first line of every enclosing definition;
- ``elided``: one elision line (the patch alone shows the change).

Files without a grammar (or that do not parse) get the same levels with line windows only.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

from codeflow.fim.units import ELISION

LEVELS = ("whole", "defs", "windows", "elided")
DEF_MAX_LINES = 80  # an enclosing definition up to this size is shown whole at level "defs"
DEFS_WINDOW = 12  # lines around a change at level "defs" when its definition is larger
WINDOW = 3  # lines around a change at level "windows" (the patch's own context)
MARKER = re.compile(rf"^{ELISION} (\d+) lines?$")


def marker(n: int) -> str:
    """The line standing for ``n`` elided lines."""
    return f"{ELISION} {n} line{'s' if n != 1 else ''}\n"


def split_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` (the last one may lack it), split on ``\\n`` only, as the patch applier does."""
    from codeflow.commits.patchapply import split_lines as _split

    return _split(text)


@dataclass(frozen=True)
class Def:
    """A definition node as lines (0-based, inclusive): its span and its header (decorators to body start)."""

    start: int
    end: int
    header_end: int
    named: bool = True  # has a name, or starts an unindented line (``const f = () => ...``): an outline entry


_TREES: OrderedDict[tuple[str, str], object] = OrderedDict()  # (lang, text) -> tree, the last few parsed


def _parse(text: str, data: bytes, lang: str, base: str | None):
    """``data``'s tree; re-parsed incrementally from ``base``'s (the other side of the same file) when that one was
    parsed lately: tree-sitter then re-parses only the edited region, and the tree is the one a fresh parse gives
    (``tests/commits/test_incremental_strip.py``)."""
    from codeflow.code.languages import get_parser
    from codeflow.commits.scan import edited_tree

    old_tree = _TREES.get((lang, base)) if base is not None else None
    parser = get_parser(lang)
    tree = parser.parse(data) if old_tree is None else parser.parse(data, edited_tree(old_tree, base.encode(), data))
    _TREES[(lang, text)] = tree
    if len(_TREES) > 16:
        _TREES.popitem(last=False)
    return tree


@lru_cache(maxsize=128)
def definitions(text: str, lang: str | None, max_parse_bytes: int = 1 << 20,
                base: str | None = None) -> tuple[Def, ...] | None:
    """Function-level definitions of ``text`` (None without a grammar or when the file does not parse); ``base``:
    the file's other side, whose tree (when still at hand) the parse of ``text`` starts from.

    Cached: a file's old side is often the next triplet's context or old side again, and the fitter asks for
    several levels of one view."""
    from codeflow.fim.ast_split import _query, has_level

    data = text.encode("utf-8")
    if not lang or len(data) > max_parse_bytes or not has_level(lang, "function"):
        return None
    from tree_sitter import QueryCursor

    tree = _parse(text, data, lang, base)
    if tree.root_node.has_error and tree.root_node.named_child_count <= 1:
        return None
    out = set()
    for node in QueryCursor(_query(lang, "function")).captures(tree.root_node).get("n", []):
        start = node
        parent = node.parent
        if parent is not None and parent.type == "decorated_definition":  # Python decorators belong to the def
            start = parent
        body = node.child_by_field_name("body")
        # the header ends on the line before the body (Python's indented block, an Allman brace) or on the body's
        # first line when the body opens there (``... {``)
        header_end = node.start_point[0]
        if body is not None and body.start_point[0] > node.start_point[0]:
            header_end = body.start_point[0] - 1
        end = node.end_point[0] - (1 if node.end_point[1] == 0 and node.end_point[0] > node.start_point[0] else 0)
        line_start = data.rfind(b"\n", 0, node.start_byte) + 1
        named = node.child_by_field_name("name") is not None or data[line_start:line_start + 1] not in (b" ", b"\t")
        out.add(Def(start.start_point[0], end, max(header_end, node.start_point[0]), named))
    return tuple(sorted(out, key=lambda d: (d.start, -d.end, d.header_end)))


def _enclosing(defs: tuple[Def, ...], lo: int, hi: int) -> list[Def]:
    """Definitions containing lines ``lo..hi`` (inclusive), outermost first."""
    return sorted((d for d in defs if d.start <= lo and hi <= d.end), key=lambda d: (d.start, -d.end))


def keep_lines(n_lines: int, ranges: list[tuple[int, int]], level: str, defs: tuple[Def, ...] | None) -> set[int]:
    """Line numbers a view of ``level`` keeps, for changed ``ranges`` (0-based ``(start, count)``; count 0 is an
    insertion point before line ``start``)."""
    if level == "whole":
        return set(range(n_lines))
    if level == "elided" or n_lines == 0:
        return set()
    keep: set[int] = set()
    window = DEFS_WINDOW if level == "defs" else WINDOW
    for start, count in ranges:
        lo = max(0, min(start, n_lines - 1) - (1 if count == 0 and start > 0 else 0))
        hi = min(n_lines - 1, start + count - 1) if count else min(n_lines - 1, start)
        chain = _enclosing(defs, lo, hi) if defs else []
        inner = chain[-1] if chain else None
        if level == "defs" and inner is not None and inner.end - inner.start + 1 <= DEF_MAX_LINES:
            keep.update(range(inner.start, inner.end + 1))
            chain = chain[:-1]
        else:
            keep.update(range(max(0, lo - window), min(n_lines, hi + window + 1)))
        for d in chain:
            keep.update(range(d.start, (d.header_end if level == "defs" else d.start) + 1))
    return {i for i in keep if 0 <= i < n_lines}


def outline_lines(n_lines: int, defs: tuple[Def, ...] | None) -> set[int]:
    """The header lines of every definition (a context file's outline); nothing without a grammar."""
    keep: set[int] = set()
    for d in defs or ():
        if d.named:  # anonymous callbacks and closures are not part of a file's outline
            keep.update(range(d.start, min(d.header_end, n_lines - 1) + 1))
    return keep


def render(lines: list[str], keep: set[int]) -> str:
    """The kept lines in order, every run of left-out lines replaced by one ``marker`` line."""
    out: list[str] = []
    gap = 0
    for i, line in enumerate(lines):
        if i in keep:
            if gap:
                out.append(marker(gap))
                gap = 0
            out.append(line if line.endswith("\n") else line + "\n")
        else:
            gap += 1
    if gap:
        out.append(marker(gap))
    return "".join(out)


def is_projection(view: str, text: str) -> bool:
    """Whether ``view`` is ``render(lines(text), keep)`` for some ``keep``: every kept line is the file's line
    at that position and the elision counts add up (the check a test runs on the stored text)."""
    lines = split_lines(text)
    pos = 0
    for line in split_lines(view):
        m = MARKER.match(line.rstrip("\n"))
        if m and not (pos < len(lines) and lines[pos].rstrip("\n") == line.rstrip("\n")):
            pos += int(m.group(1))
            continue
        if pos >= len(lines) or lines[pos].rstrip("\n") != line.rstrip("\n"):
            return False
        pos += 1
    return pos == len(lines)
