"""The comment-only check re-parses the new side incrementally: it must see exactly what a fresh parse sees."""

import pytest

from codeflow.code.languages import get_parser
from codeflow.commits.lexproof import common_prefix, edit_span
from codeflow.commits.scan import _strip_comments, edited_tree

OLD = b'''"""Module docstring."""
import os


def f(x):
    """Return x.

    More words.
    """
    # a comment
    return os.path.join(x, "#not a comment")


class C:
    s = """a string that is code"""
'''

EDITS = [
    (b"More words.", b"More words, reworded."),  # inside a docstring
    (b"# a comment", b"# another comment"),
    (b'"#not a comment"', b'"#changed"'),  # a '#' inside a string is code
    (b'"""a string that is code"""', b'"""changed code string"""'),
    (b'"""Module docstring."""\n', b""),  # deletion at the start
    (b"return os", b'"""\n    return os'),  # opens a string that swallows code: the parse changes far away
]


@pytest.mark.parametrize("old_text,new_text", EDITS)
def test_incremental_parse_strips_like_a_fresh_parse(old_text, new_text):
    assert old_text in OLD
    new = OLD.replace(old_text, new_text, 1)
    parser = get_parser("python")
    tree = parser.parse(new, edited_tree(parser.parse(OLD), OLD, new))
    assert _strip_comments(new, "python", tree) == _strip_comments(new, "python")


def test_common_prefix_and_edit_span():
    assert common_prefix(b"abcdef", b"abcxef") == 3
    assert common_prefix(b"abc", b"abc") == 3
    assert common_prefix(b"", b"abc") == 0
    assert common_prefix(b"xbc", b"abc") == 0
    assert edit_span(b"abcdef", b"abXYef") == (2, 4, 4)  # start, end in old, end in new
    assert edit_span(b"aaaa", b"aaaaaa") == (4, 4, 6)  # the suffix never overlaps the prefix
    assert edit_span(b"same", b"same") == (4, 4, 4)
