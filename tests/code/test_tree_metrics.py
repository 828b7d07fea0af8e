"""Both tree walks (the C extension's and the Python one) against a plain recursive reference on every sample language.

The reference spells out the definition: depth of the deepest visible node (root = 0), function-level nodes,
bytes of outermost comment nodes; a comment's subtree is not entered (nested comment nodes count once, and their
children add no depth). Truncated copies give trees with ERROR / MISSING nodes: the Python walk must walk them the
same way, and the C ``check`` must report the same first error as the Python code (it walks clean trees only).
"""

from __future__ import annotations

import pytest

from codeflow.code import native
from codeflow.code.languages import LANGUAGES, comment_node_types, get_parser, language_for_path
from codeflow.code.validate import _kind_classes, python_check, tree_metrics
from tests.code.helpers import sample_files


def _reference(tree, language: str) -> dict:
    funcs = LANGUAGES[language].fim_node_types["function"]
    comments = comment_node_types(language)
    out = {"max_depth": 0, "function_count": 0, "_comment_bytes": 0}

    def visit(node, depth: int) -> None:
        out["max_depth"] = max(out["max_depth"], depth)
        if node.is_named and node.type in comments:
            out["_comment_bytes"] += node.end_byte - node.start_byte
            return
        out["function_count"] += node.is_named and node.type in funcs
        for child in node.children:
            visit(child, depth + 1)

    visit(tree.root_node, 0)
    return out


def _cases() -> list[tuple[str, str, bytes]]:
    cases = []
    for path, data in sample_files().items():
        lang = language_for_path(path, data[:200].split(b"\n", 1)[0])
        if lang:
            cases += [(path, lang, data), (f"{path}[:1/2]", lang, data[:len(data) // 2]),
                      (f"{path}[:1/3]", lang, data[:len(data) // 3])]
    return cases


CASES = _cases()


def test_every_registry_language_of_the_sample_is_covered() -> None:
    assert len({lang for _, lang, _ in CASES}) >= 30


@pytest.mark.parametrize(("name", "lang", "data"), CASES, ids=[c[0] for c in CASES])
def test_tree_metrics_equal_reference(name: str, lang: str, data: bytes) -> None:
    tree = get_parser(lang).parse(data)
    want = _reference(tree, lang)
    assert tree_metrics(tree, lang) == want, name
    check = native.checker(python_check, _kind_classes)
    if check is None:
        pytest.skip(f"C extension not in use here: {native.status()}")
    got = check(data, lang, _kind_classes(lang))
    assert tuple(got) == tuple(python_check(data, lang, _kind_classes(lang))), name
    assert got[1] == tree.root_node.descendant_count
    if not tree.root_node.has_error:
        assert got[2:] == (want["max_depth"], want["function_count"], want["_comment_bytes"]), name
