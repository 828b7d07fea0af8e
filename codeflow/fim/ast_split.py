"""AST splitter: the middle is exactly one tree-sitter node of the asked level (expression/statement/function).

Node types per level come from the language registry (``LanguageSpec.fim_node_types``). Candidates are found
with a compiled tree-sitter ``Query`` per (language, level), which walks the tree in C: the whole AST mode
costs about one parse plus a fraction (``bench/fim.py`` measures it), where a Python tree walk would cost
several parses. The pick follows ExecRepoBench's grammar-based recipe in spirit: candidates are grouped into
categories (IF 0.15, FOR 0.15, WHILE 0.10, RETURN 0.10, IMPORT 0.10, CLASS 0.10, FUNCTION 0.10, ...),
a category is drawn with its weight renormalized over the non-empty ones, then a node uniformly inside it.
IMPORT is down-weighted (``AstBounds.import_weight``, 0.003). Middle-size bounds (UTF-8 bytes, the unit
tree-sitter reports) drop tiny and huge nodes; a node covering more than ``max_file_fraction`` (half) of the
file, or the whole file, is never a middle. At function level a node's span includes its decorators /
attributes (``decorated_start``). Identical spans (``expression_statement`` wrapping a ``call``) count once.
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
    """Middle bounds. Sizes in UTF-8 bytes; ExecRepoBench keeps 10 < len(middle) < 512 for eval, training can
    afford larger function bodies.

    ``max_file_fraction``: a node covering more than this share of the file is never a middle (a class that is
    most of its file teaches copying, not completion); the whole-file node is excluded at any value.
    ``import_weight``: the category weight of imports (ExecRepoBench: 0.10). Import lines are in almost every
    file and say little about the code around them: at 0.10 one statement-level middle in five was an import.
    ``imports_alone``: whether an import may be the middle when it is the only category found (a re-export
    module, a Java interface, the import block of a large file's window). False: the window is widened to the
    whole file, and a file with nothing but imports falls back to the next level. Weight and fallback
    together bring imports from ~29% to ~2% of statement middles on real repositories (``bench/fim.py``).
    """

    min_bytes: int = 2
    max_bytes: int = 4096
    max_file_bytes: int = 1 << 20
    tries: int = 4
    window_bytes: int = 4096
    max_file_fraction: float = 0.5
    import_weight: float = 0.003
    imports_alone: bool = False
    include_decorators: bool = True


# Nodes that attach to the definition after them: Python wraps both in ``decorated_definition``; JS/TS put
# method decorators before the method in the class body (and ``@dec export class``'s decorator in the export
# statement); Rust's ``#[...]`` is a sibling ``attribute_item``. Java/Kotlin/C# annotations sit inside the node.
_DECORATOR_TYPES = frozenset({"decorator", "attribute_item", "annotation", "marker_annotation"})
_DECORATED_WRAPPERS = frozenset({"decorated_definition"})


def decorated_start(node) -> int:
    """Start byte of ``node`` with its decorators / attributes / annotations, which belong to its span: a
    middle that leaves ``@property`` in the prefix asks the model to write a def it has already half seen."""
    parent = node.parent
    if parent is not None and parent.type in _DECORATED_WRAPPERS:
        return parent.start_byte
    start = node.start_byte
    sib = node.prev_named_sibling
    while sib is not None and sib.type in _DECORATOR_TYPES:
        start = sib.start_byte
        sib = sib.prev_named_sibling
    if parent is not None and parent.type == "export_statement" and sib is None:
        first = parent.named_children[0] if parent.named_child_count else None
        if first is not None and first.type in _DECORATOR_TYPES:
            start = min(start, parent.start_byte)
    return start


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


@dataclass(frozen=True)
class Candidate:
    """One possible middle: byte span (decorators included at function level), node type and category."""

    start: int
    end: int
    type: str
    category: str
    has_error: bool


def candidates(tree, language: str, level: str, n_bytes: int, bounds: AstBounds,
               rng: random.Random | None = None) -> dict[str, list[Candidate]]:
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
    lo, hi = bounds.min_bytes, min(bounds.max_bytes, int(bounds.max_file_fraction * n_bytes))
    cursor = QueryCursor(query)
    if rng is not None and bounds.window_bytes and n_bytes > bounds.window_bytes:
        start = rng.randrange(n_bytes - bounds.window_bytes + 1)
        cursor.set_byte_range(start, start + bounds.window_bytes)
    found = []
    for node in cursor.captures(tree.root_node).get("n", []):
        s, e = node.start_byte, node.end_byte
        if level == "function" and bounds.include_decorators:
            s = decorated_start(node)
        if lo <= e - s <= hi and not (s == 0 and e >= n_bytes):
            found.append((s, e, node.type, node.has_error))
    # The capture order of an alternation query is not stable across runs: sort, so the pick depends only on
    # the file and the RNG (determinism across processes and engines).
    found.sort(key=lambda x: x[:3])
    by_cat: dict[str, list[Candidate]] = {}
    last = None
    for s, e, typ, err in found:
        if (s, e) != last:
            cat = category_of(typ)
            by_cat.setdefault(cat, []).append(Candidate(s, e, typ, cat, err))
            last = (s, e)
    return by_cat


def pick(by_cat: dict[str, list[Candidate]], rng: random.Random, tries: int = 4,
         weights: dict[str, float] | None = None) -> Candidate | None:
    """Category by renormalized weight, then a node uniformly; nodes holding a syntax error are redrawn."""
    table = weights or CATEGORY_WEIGHTS
    cats = sorted(c for c in by_cat if by_cat[c])
    if not cats:
        return None
    w = [table.get(c, 0.05) for c in cats]
    if not sum(w) > 0:  # only zero-weight categories left (e.g. import weight 0 and an imports-only file)
        return None
    cand = None
    for _ in range(max(1, tries)):
        cat = rng.choices(cats, w)[0]
        cand = by_cat[cat][rng.randrange(len(by_cat[cat]))]
        if not cand.has_error:
            return cand
    return cand


def _nothing_but_imports(by_cat: dict[str, list[Candidate]], bounds: AstBounds) -> bool:
    """No candidate at all, or (unless ``bounds.imports_alone``) only imports."""
    return not by_cat or (not bounds.imports_alone and set(by_cat) == {"import"})


def byte_to_char(text: str, data: bytes, offset: int) -> int:
    """Code point offset of a UTF-8 byte offset (tree-sitter node boundaries are always code point boundaries)."""
    if len(data) == len(text):  # pure ASCII: bytes are chars
        return offset
    return len(data[:offset].decode("utf-8"))


def ast_pick(text: str, data: bytes, language: str, level: str, rng: random.Random, bounds: AstBounds,
             tree=None) -> tuple[Span | None, str | None, object]:
    """A span covering exactly one node of ``level`` (with its decorators at function level) and its category,
    or ``(None, None, tree)`` when the file has no such node within bounds.

    Returns the tree so a caller falling back to another level reuses the parse.
    """
    if len(data) > bounds.max_file_bytes or _query(language, level) is None:
        return None, None, tree
    if tree is None:
        tree = parse(language, data)
    by_cat = candidates(tree, language, level, len(data), bounds, rng)
    if _nothing_but_imports(by_cat, bounds) and bounds.window_bytes and len(data) > bounds.window_bytes:
        by_cat = candidates(tree, language, level, len(data), bounds)  # the window hit a comment block: whole file
    if _nothing_but_imports(by_cat, bounds):
        by_cat = {}
    weights = dict(CATEGORY_WEIGHTS, **{"import": bounds.import_weight})
    ascii_only = len(data) == len(text)
    while True:
        cand = pick(by_cat, rng, bounds.tries, weights)
        if cand is None:
            return None, None, tree
        span = Span(byte_to_char(text, data, cand.start), byte_to_char(text, data, cand.end))
        # The size filter is in bytes; the file-share rule is about the text, so check it in characters when
        # multi-byte characters make the two differ (an ASCII node in a file of CJK comments).
        if ascii_only or span.end - span.start <= bounds.max_file_fraction * len(text):
            return span, cand.category, tree
        by_cat[cand.category].remove(cand)


def ast_span(text: str, data: bytes, language: str, level: str, rng: random.Random, bounds: AstBounds,
             tree=None) -> tuple[Span | None, object]:
    """:func:`ast_pick` without the category: ``(span, tree)``."""
    span, _, tree = ast_pick(text, data, language, level, rng, bounds, tree)
    return span, tree
