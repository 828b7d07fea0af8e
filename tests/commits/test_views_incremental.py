"""A view's new side is parsed from its old side's tree: the definitions must be those of a fresh parse."""

import pytest

from codeflow.commits import views
from tests.commits.test_incremental_strip import EDITS, OLD

MORE = [
    (b"def f(x):", b"def f(x, y=1):\n    pass\n\n\ndef g(x):"),  # a definition added before another
    (b"class C:", b"@decorator\nclass C(Base):"),
    (b"    return os.path.join", b"    if x:\n        return x\n    return os.path.join"),
    (b"def f(x):", b"def f(x:"),  # a syntax error
]


@pytest.mark.parametrize("old_text,new_text", EDITS + MORE)
def test_definitions_from_the_old_tree_equal_a_fresh_parse(old_text, new_text):
    old = OLD.decode()
    new = OLD.replace(old_text, new_text, 1).decode()
    views.definitions.cache_clear()
    views._TREES.clear()
    fresh = views.definitions(new, "python")
    views.definitions.cache_clear()
    views._TREES.clear()
    views.definitions(old, "python")  # the old side first, as the fitter asks
    assert (views._TREES.get(("python", old)) is not None)
    assert views.definitions(new, "python", base=old) == fresh
