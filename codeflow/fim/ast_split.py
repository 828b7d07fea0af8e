"""AST splitter: the middle is exactly one tree-sitter node of the asked level (expression/statement/function).

Node types per level come from the language registry (``LanguageSpec.fim_node_types``). Candidates are found
with a compiled tree-sitter ``Query`` per (language, level), which walks the tree in C: the whole AST mode
costs about one parse plus a fraction (``bench/fim.py`` measures it), where a Python tree walk would cost
several parses. The pick follows ExecRepoBench's grammar-based recipe in spirit: candidates are grouped into
categories (IF 0.15, FOR 0.15, WHILE 0.10, RETURN 0.10, IMPORT 0.10, CLASS 0.10, FUNCTION 0.10, ...),
a category is drawn with its weight renormalized over the non-empty ones, then a node uniformly inside it.
Middle-size bounds (UTF-8 bytes, the unit tree-sitter reports) drop tiny and huge nodes, and a node that is
the whole file is never a middle. Identical spans (``expression_statement`` wrapping a ``call``) count once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

from codeflow.fim.splitters import Span

# ExecRepoBench's category weights (create_test_repo.py), extended with expression-level categories.
CATEGORY_WEIGHTS: dict[str, float] = {
    "if": 0.15, "for": 0.15, "while": 0.10, "return": 0.10, "import": 0.10, "class": 0.10, "function": 0.10,
    "assignment": 0.05, "expression_statement": 0.05, "call": 0.10, "operator": 0.05, "access": 0.05,
    "arguments": 0.05, "other": 0.05,
}
_WORDS: list[tuple[str, frozenset[str]]] = [
    ("import", frozenset({"import", "use", "include", "using", "require"})),
    ("return", frozenset({"return"})),
    ("if", frozenset({"if", "unless", "conditional", "guard", "switch", "match", "case", "ternary"})),
    ("for", frozenset({"for", "foreach", "enhanced"})),
    ("while", frozenset({"while", "until", "loop", "do"})),
    ("class", frozenset({"class", "struct", "interface", "impl", "trait", "enum", "module", "object", "contract",
                         "record", "type", "protocol", "instance", "data"})),
    ("function", frozenset({"function", "method", "lambda", "closure", "arrow", "func", "constructor", "fn",
                            "subroutine", "signature", "fun", "anonymous", "block", "macro"})),
    ("call", frozenset({"call", "invocation", "application", "apply", "creation", "new"})),
    ("arguments", frozenset({"arguments", "argument", "args"})),
    ("access", frozenset({"attribute", "member", "field", "selector", "subscript", "index", "navigation",
                          "access", "dot", "reference"})),
    ("operator", frozenset({"binary", "boolean", "comparison", "infix", "additive", "unary", "update",
                            "operator", "compound"})),
    ("assignment", frozenset({"assignment", "declaration", "let", "var", "lexical", "property", "val",
                              "definition", "bind", "short", "variable", "augmented"})),
]


@cache
def category_of(node_type: str) -> str:
    """ExecRepoBench-style category of a node type, from the words of its name (``for_in_statement`` -> for)."""
    if node_type == "expression_statement":
        return "expression_statement"
    words = set(node_type.lower().split("_"))
    for cat, keys in _WORDS:
        if words & keys:
            return cat
    return "other"


@dataclass(frozen=True)
class AstBounds:
    """Middle-size bounds in UTF-8 bytes; ExecRepoBench keeps 10 < len(middle) < 512 for eval, training
    can afford larger function bodies."""

    min_bytes: int = 2
    max_bytes: int = 4096
    max_file_bytes: int = 1 << 20
    tries: int = 4
    window_bytes: int = 4096


@cache
def _query(language: str, level: str):
    """Compiled query capturing every node type of ``level`` the grammar knows; None if there are none."""
    from tree_sitter import Query

    from codeflow.code.languages import LANGUAGES, get_language

    spec = LANGUAGES.get(language)
    if spec is None:
        return None
    lang = get_language(language)
    types = sorted(t for t in spec.fim_node_types.get(level, ()) if lang.id_for_node_kind(t, True) is not None)
    if not types:
        return None
    return Query(lang, "[" + " ".join(f"({t})" for t in types) + "] @n")


def has_level(language: str | None, level: str) -> bool:
    return bool(language) and _query(language, level) is not None


def parse(language: str, data: bytes):
    from codeflow.code.languages import get_parser

    return get_parser(language).parse(data)


def candidates(tree, language: str, level: str, n_bytes: int, bounds: AstBounds,
               rng: random.Random | None = None) -> dict[str, list]:
    """Nodes of ``level`` within the size bounds, by category, deduplicated by span.

    In a file larger than ``bounds.window_bytes`` only nodes touching one random window of that size are
    collected (``rng`` places it). Why: the capture work (the query walk and a Python object per node) grows
    with the file while a sample needs one node; the window keeps AST mode near the cost of the parse alone.
    Nodes of any size that overlap the window stay candidates, so whole functions remain reachable.
    """
    from tree_sitter import QueryCursor

    query = _query(language, level)
    if query is None:
        return {}
    lo, hi = bounds.min_bytes, bounds.max_bytes
    cursor = QueryCursor(query)
    if rng is not None and bounds.window_bytes and n_bytes > bounds.window_bytes:
        start = rng.randrange(n_bytes - bounds.window_bytes + 1)
        cursor.set_byte_range(start, start + bounds.window_bytes)
    found = []
    for node in cursor.captures(tree.root_node).get("n", []):
        s, e = node.start_byte, node.end_byte
        if lo <= e - s <= hi and not (s == 0 and e >= n_bytes):
            found.append((s, e, node.type, node))
    # The capture order of an alternation query is not stable across runs: sort, so the pick depends only on
    # the file and the RNG (determinism across processes and engines).
    found.sort(key=lambda x: x[:3])
    by_cat: dict[str, list] = {}
    last = None
    for s, e, typ, node in found:
        if (s, e) != last:
            by_cat.setdefault(category_of(typ), []).append(node)
            last = (s, e)
    return by_cat


def pick(by_cat: dict[str, list], rng: random.Random, tries: int = 4):
    """Category by renormalized weight, then a node uniformly; nodes holding a syntax error are redrawn."""
    cats = sorted(by_cat)
    if not cats:
        return None
    weights = [CATEGORY_WEIGHTS.get(c, 0.05) for c in cats]
    node = None
    for _ in range(max(1, tries)):
        cat = rng.choices(cats, weights)[0]
        node = by_cat[cat][rng.randrange(len(by_cat[cat]))]
        if not node.has_error:
            return node
    return node


def byte_to_char(text: str, data: bytes, offset: int) -> int:
    """Code point offset of a UTF-8 byte offset (tree-sitter node boundaries are always code point boundaries)."""
    if len(data) == len(text):  # pure ASCII: bytes are chars
        return offset
    return len(data[:offset].decode("utf-8"))


def ast_span(text: str, data: bytes, language: str, level: str, rng: random.Random, bounds: AstBounds,
             tree=None) -> tuple[Span | None, object]:
    """A span covering exactly one node of ``level``, or None when the file has no such node within bounds.

    Returns ``(span, tree)`` so a caller falling back to another level reuses the parse.
    """
    if len(data) > bounds.max_file_bytes or _query(language, level) is None:
        return None, tree
    if tree is None:
        tree = parse(language, data)
    by_cat = candidates(tree, language, level, len(data), bounds, rng)
    if not by_cat and bounds.window_bytes and len(data) > bounds.window_bytes:
        by_cat = candidates(tree, language, level, len(data), bounds)  # the window hit a comment block: whole file
    node = pick(by_cat, rng, bounds.tries)
    if node is None:
        return None, tree
    return Span(byte_to_char(text, data, node.start_byte), byte_to_char(text, data, node.end_byte)), tree
