"""One file -> one (prefix, middle, suffix) split, deterministic per (file id, seed, level).

The split kind is drawn from the configured modes and weights. When the drawn kind cannot apply (an AST level
with no node within the size bounds, a language without a grammar, a file too large to parse) the sample
falls back — other AST levels nearest first, then line, then char — and the record keeps both the asked
(``requested_kind``) and the applied (``split_kind``) kind, so reports show how often that happens.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from codeflow.fim.ast_split import AstBounds, ast_span
from codeflow.fim.splitters import Span, char_span, line_span

SPLIT_KINDS: tuple[str, ...] = ("char", "line", "ast_expression", "ast_statement", "ast_function")
ALL_KINDS: tuple[str, ...] = SPLIT_KINDS + ("none",)
_AST_ORDER = {"ast_function": ("ast_function", "ast_statement", "ast_expression"),
              "ast_statement": ("ast_statement", "ast_expression", "ast_function"),
              "ast_expression": ("ast_expression", "ast_statement", "ast_function")}


def expand_modes(modes: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"char,line,ast"`` -> the split kinds; ``ast`` means all three AST levels."""
    items = [m.strip() for m in (modes.split(",") if isinstance(modes, str) else modes) if m.strip()]
    out: list[str] = []
    for m in items:
        kinds = [k for k in SPLIT_KINDS if k.startswith("ast_")] if m == "ast" else [m]
        for k in kinds:
            if k not in SPLIT_KINDS:
                raise ValueError(f"unknown FIM mode {m!r}; choose from char, line, ast, {', '.join(SPLIT_KINDS[2:])}")
            if k not in out:
                out.append(k)
    if not out:
        raise ValueError("no FIM mode given")
    return tuple(out)


def rng_for(file_id: str, seed: int, level: str) -> random.Random:
    """A private RNG per sample: same (file id, seed, level) -> same draws on any engine, process or order."""
    digest = hashlib.blake2b(f"{file_id}\x00{seed}\x00{level}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "little"))


@dataclass(frozen=True)
class SplitParams:
    modes: tuple[str, ...]
    weights: tuple[float, ...]
    fim_rate: float = 0.5
    max_lines: int = 15
    bounds: AstBounds = AstBounds()


@dataclass(frozen=True)
class Split:
    kind: str
    requested: str
    span: Span

    def cut(self, text: str) -> tuple[str, str, str]:
        return self.span.cut(text)


def _apply(kind: str, text: str, data: bytes, language: str | None, rng: random.Random, p: SplitParams,
           tree_box: list) -> Span | None:
    if kind == "char":
        return char_span(text, rng)
    if kind == "line":
        return line_span(text, rng, p.max_lines)
    if not language:
        return None
    span, tree_box[0] = ast_span(text, data, language, kind[4:], rng, p.bounds, tree_box[0])
    return span


def choose_split(text: str, data: bytes, language: str | None, rng: random.Random, p: SplitParams,
                 tree=None) -> Split:
    """Decide FIM or plain (probability ``fim_rate``), draw a kind, apply it with fallbacks.

    ``tree``: a tree-sitter parse of ``data`` in ``language`` made already (repo context splits files into
    units), so AST modes do not parse the file a second time."""
    if rng.random() >= p.fim_rate:
        return Split("none", "none", Span(len(text), len(text)))
    requested = rng.choices(p.modes, p.weights)[0]
    chain = _AST_ORDER.get(requested, (requested,)) + ("line", "char")
    tree_box: list = [tree]
    seen = set()
    for kind in chain:
        if kind in seen:
            continue
        seen.add(kind)
        span = _apply(kind, text, data, language, rng, p, tree_box)
        if span is not None:
            return Split(kind, requested, span)
    return Split("char", requested, char_span(text, rng))
