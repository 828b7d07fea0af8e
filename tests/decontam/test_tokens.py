"""The numpy byte tokenizer: same token in any text hashes the same, and the report's regex spans count alike."""

from __future__ import annotations

import pyarrow as pa
import pytest

from codeflow.decontam.tokens import ID_SYMBOL, token_spans, tokenize

from .helpers import host_texts

TRICKY = ["", "   \n\t", "naïve_x = «déjà» — “quoted” 変数 = 1\u00a0+ y", "a\x00b\x01c\x7f", "ÉCOLE école École",
          "x" * 300 + " " + "y" * 9 + " " + "z" * 8, "/* block */ int x; // line\nint y; # py comment\n#z", "#"]


@pytest.mark.parametrize("kind", ["code", "prose"])
def test_spans_count_the_tokens_the_matcher_hashes(kind: str) -> None:
    texts = TRICKY + [t for _, t in host_texts()[:4]]
    _, _, counts = tokenize(pa.array(texts, pa.large_string()), kind)
    assert [len(token_spans(t, kind)) for t in texts] == counts.tolist()


def test_hashes_depend_on_the_token_only() -> None:
    long = "q" * 300  # past the eight-byte fold's limit: hashed whole
    raw, abstract, counts = tokenize(pa.array([f"foo {long} bar foo", f"x foo {long}", "abcdefghij abcdefghi"],
                                              pa.large_string()), "code")
    assert counts.tolist() == [4, 3, 2]
    assert raw[0] == raw[3] == raw[5] and raw[1] == raw[6] and raw[0] != raw[2] and raw[7] != raw[8]
    assert abstract[0] == abstract[2] == abstract[4] == ID_SYMBOL  # identifiers collapse, keywords do not
    raw, abstract, _ = tokenize(pa.array(["for x in range(len(y))"], pa.large_string()), "code")
    assert [bool(a == ID_SYMBOL) for a in abstract] == [False, True, False, False, False, False, False, True, False,
                                                       False]
    prose, _, _ = tokenize(pa.array(["Hello, WORLD!", "hello world"], pa.large_string()), "prose")
    assert prose[:2].tolist() == prose[2:].tolist()
    code, _, _ = tokenize(pa.array(["Hello", "hello"], pa.large_string()), "code")
    assert code[0] != code[1]  # code keeps case
