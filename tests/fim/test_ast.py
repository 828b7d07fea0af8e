"""AST splitter over every registry language on real code: the middle is exactly one node of the declared level."""

from __future__ import annotations

import random

import pytest

from codeflow.code.languages import FIM_LEVELS, LANGUAGES, get_parser
from codeflow.fim.ast_split import AstBounds, ast_span, category_of
from codeflow.fim.sample import SplitParams, choose_split
from tests.fim.helpers import sample_rows, stdlib_rows

ROWS = sample_rows() + stdlib_rows()
BY_LANG: dict[str, list[dict]] = {}
for _r in ROWS:
    if _r["language"]:
        BY_LANG.setdefault(_r["language"], []).append(_r)


def node_spans(language: str, data: bytes, level: str) -> set[tuple[int, int]]:
    """(start, end) byte spans of every node of ``level`` in a fresh parse (an independent full tree walk); at
    function level the span starts at the node's decorators when it has some (a Python ``decorated_definition``,
    ``@dec`` / ``#[attr]`` siblings just before it)."""
    types = LANGUAGES[language].fim_node_types[level]
    spans = set()
    cursor = get_parser(language).parse(data).walk()
    stack = [cursor.node]
    while stack:
        node = stack.pop()
        if node.type in types:
            start = node.start_byte
            if level == "function":
                if node.parent is not None and node.parent.type == "decorated_definition":
                    start = node.parent.start_byte
                siblings = node.parent.children if node.parent is not None else []
                i = siblings.index(node) if node in siblings else 0
                while i > 0 and siblings[i - 1].type in ("decorator", "attribute_item"):
                    i -= 1
                    start = siblings[i].start_byte
                if node.parent is not None and node.parent.type == "export_statement" and \
                        node.parent.children[0].type == "decorator":
                    start = node.parent.start_byte
            spans.add((start, node.end_byte))
        stack.extend(node.children)
    return spans


def test_every_registry_language_has_sample_code() -> None:
    assert set(LANGUAGES) <= set(BY_LANG)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_ast_middle_is_one_node_of_the_level(language: str) -> None:
    bounds = AstBounds(min_bytes=1, max_bytes=1 << 16)
    produced = 0
    for row in BY_LANG[language]:
        text = row["content"]
        data = text.encode()
        for level in FIM_LEVELS:
            spans = node_spans(language, data, level)
            for seed in range(6):
                span, _ = ast_span(text, data, language, level, random.Random(seed), bounds)
                if span is None:
                    # no node of this level (other than the whole file) within bounds and half the file
                    assert not {s for s in spans if 0 < s[1] - s[0] <= len(data) / 2 and s != (0, len(data))}
                    continue
                pre, mid, suf = span.cut(text)
                assert (pre + mid + suf).encode() == data
                b0 = len(pre.encode())
                assert (b0, b0 + len(mid.encode())) in spans, (level, mid[:80])
                produced += 1
    assert produced > 0, f"{language}: no AST middle at any level"


def test_fallback_is_recorded_when_level_is_absent() -> None:
    text = "x = 1\n"  # python: no function-level node at all
    params = SplitParams(modes=("ast_function",), weights=(1.0,), fim_rate=1.0)
    split = choose_split(text, text.encode(), "python", random.Random(0), params)
    assert split.requested == "ast_function" and split.kind != "ast_function"
    no_grammar = choose_split("plain words\nmore\n", b"plain words\nmore\n", None, random.Random(0), params)
    assert no_grammar.kind in ("line", "char") and no_grammar.requested == "ast_function"


def test_middle_size_bounds_hold() -> None:
    row = next(r for r in ROWS if r["path"] == "Lib/difflib.py")
    text, data = row["content"], row["content"].encode()
    bounds = AstBounds(min_bytes=20, max_bytes=200)
    for seed in range(40):
        span, _ = ast_span(text, data, "python", "statement", random.Random(seed), bounds)
        assert 20 <= len(text[span.start:span.end].encode()) <= 200


def test_categories_follow_execrepobench_names() -> None:
    assert category_of("for_in_statement") == "for"
    assert category_of("if_statement") == "if"
    assert category_of("import_from_statement") == "import"
    assert category_of("function_definition") == "function"
    assert category_of("class_declaration") == "class"
    assert category_of("expression_statement") == "expression_statement"
    assert category_of("format_string") == "other"  # 'for' inside a word is not a loop


def test_window_never_hides_a_level_present_elsewhere() -> None:
    """A large file whose random window lands in a long comment still gets an AST middle (whole-file retry)."""
    text = "# " + "comment line\n# " * 2000 + "\ndef f(x):\n    return x + 1\n"
    data = text.encode()
    for seed in range(10):
        span, _ = ast_span(text, data, "python", "function", random.Random(seed), AstBounds(window_bytes=1024))
        assert span is not None and text[span.start:span.end].startswith("def f")
