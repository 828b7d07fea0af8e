"""One file -> one (prefix, middle, suffix) split, deterministic per (file id, seed, level).

The split kind is drawn from the configured modes and weights. When the drawn kind cannot apply (an AST level
with no node within the size bounds, a language without a grammar, a file too large to parse) the sample
falls back — other AST levels nearest first, then line, then char — and the record keeps both the asked
(``requested_kind``) and the applied (``split_kind``) kind, so reports show how often that happens.

Config and markup files (YAML, TOML, JSON, XML, HTML, Markdown, INI, ...) draw from the char and line modes
only: their "functions" are mappings and sections, and an AST middle of a YAML block teaches nothing about code.
"""

from __future__ import annotations

import hashlib
import posixpath
import random
from dataclasses import dataclass

from codeflow.fim.ast_split import AstBounds, ast_pick
from codeflow.fim.splitters import Span, char_span, line_span

SPLIT_KINDS: tuple[str, ...] = ("char", "line", "ast_expression", "ast_statement", "ast_function")
ALL_KINDS: tuple[str, ...] = SPLIT_KINDS + ("none",)
_AST_ORDER = {"ast_function": ("ast_function", "ast_statement", "ast_expression"),
              "ast_statement": ("ast_statement", "ast_expression", "ast_function"),
              "ast_expression": ("ast_expression", "ast_statement", "ast_function")}


TEXT_KINDS: tuple[str, ...] = ("char", "line")
# Config / markup formats outside the grammar registry (the registry marks its own ones kind="data"/"markup").
TEXT_ONLY_LANGUAGES = frozenset({"markdown", "xml", "ini", "properties", "rst", "restructuredtext", "text",
                                 "csv", "svg", "asciidoc", "editorconfig", "gitignore", "json5", "hcl"})
TEXT_ONLY_EXTENSIONS = frozenset({".md", ".markdown", ".mdx", ".rst", ".txt", ".adoc", ".xml", ".xsd", ".xsl",
                                  ".svg", ".plist", ".pom", ".ini", ".cfg", ".conf", ".properties", ".env",
                                  ".yaml", ".yml", ".toml", ".json", ".jsonc", ".json5", ".lock", ".csv", ".tsv",
                                  ".html", ".htm", ".xhtml", ".css", ".scss", ".less", ".editorconfig"})
STUB_SUFFIXES: tuple[str, ...] = (".pyi", ".d.ts", ".d.mts", ".d.cts")


def is_text_only(language: str | None, path: str | None) -> bool:
    """Whether a file is config or markup: a registry language of kind data/markup, a known config/markup
    language name, or a config/markup extension (``.cfg``, ``.properties`` have no grammar in the registry)."""
    from codeflow.code.languages import LANGUAGES

    spec = LANGUAGES.get(language or "")
    if spec is not None and spec.kind != "programming":
        return True
    if (language or "").lower() in TEXT_ONLY_LANGUAGES:
        return True
    if spec is None and path:
        ext = posixpath.splitext(posixpath.basename(path.replace("\\", "/")))[1].lower()
        return ext in TEXT_ONLY_EXTENSIONS
    return False


def is_stub(path: str | None) -> bool:
    """Type stubs / declaration files (``.pyi``, ``.d.ts``): bodies are ``...``, so every middle would be one."""
    return bool(path) and path.lower().endswith(STUB_SUFFIXES)


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
    max_char_middle: int = 2000  # 0: uncapped (two uniform cut points)
    max_char_middle_fraction: float = 0.25
    text_only_config: bool = True


@dataclass(frozen=True)
class Split:
    kind: str
    requested: str
    span: Span
    category: str | None = None  # the AST category of the middle node (import, if, function, ...)

    def cut(self, text: str) -> tuple[str, str, str]:
        return self.span.cut(text)


def _apply(kind: str, text: str, data: bytes, language: str | None, rng: random.Random, p: SplitParams,
           tree_box: list) -> tuple[Span | None, str | None]:
    if kind == "char":
        return char_span(text, rng, p.max_char_middle, p.max_char_middle_fraction), None
    if kind == "line":
        return line_span(text, rng, p.max_lines), None
    if not language:
        return None, None
    span, category, tree_box[0] = ast_pick(text, data, language, kind[4:], rng, p.bounds, tree_box[0])
    return span, category


def choose_split(text: str, data: bytes, language: str | None, rng: random.Random, p: SplitParams,
                 tree=None, text_only: bool = False) -> Split:
    """Decide FIM or plain (probability ``fim_rate``), draw a kind, apply it with fallbacks.

    ``tree``: a tree-sitter parse of ``data`` in ``language`` made already (repo context splits files into
    units), so AST modes do not parse the file a second time. ``text_only`` (a config or markup file, see
    :func:`is_text_only`; honoured when ``p.text_only_config``): the kind is drawn from the char/line modes only,
    with their weights (line when neither is configured)."""
    if rng.random() >= p.fim_rate:
        return Split("none", "none", Span(len(text), len(text)))
    modes, weights = p.modes, p.weights
    if text_only and p.text_only_config:
        pairs = [(m, w) for m, w in zip(p.modes, p.weights, strict=True) if m in TEXT_KINDS and w > 0]
        modes, weights = (tuple(m for m, _ in pairs), tuple(w for _, w in pairs)) if pairs else (("line",), (1.0,))
    requested = rng.choices(modes, weights)[0]
    chain = _AST_ORDER.get(requested, (requested,)) + ("line", "char")
    tree_box: list = [tree]
    seen = set()
    for kind in chain:
        if kind in seen:
            continue
        seen.add(kind)
        span, category = _apply(kind, text, data, language, rng, p, tree_box)
        if span is not None:
            return Split(kind, requested, span, category)
    return Split("char", requested, char_span(text, rng, p.max_char_middle, p.max_char_middle_fraction))
