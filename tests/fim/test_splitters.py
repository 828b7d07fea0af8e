"""Char and line splitters: exact reassembly, code point boundaries, line endings, determinism."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from codeflow.fim.sample import rng_for
from codeflow.fim.splitters import char_span, line_span, line_starts

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
LINES = st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=20),
                 min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(TEXT, st.integers(0, 2**32))
def test_char_span_reassembles_bytes(text: str, seed: int) -> None:
    pre, mid, suf = char_span(text, random.Random(seed)).cut(text)
    assert (pre + mid + suf).encode() == text.encode()
    # every part is valid UTF-8 on its own: no cut inside a code point
    assert b"".join(p.encode() for p in (pre, mid, suf)) == text.encode()


@settings(max_examples=200, deadline=None)
@given(LINES, st.sampled_from(["\n", "\r\n", "\r"]), st.booleans(), st.integers(0, 2**32), st.integers(1, 6))
def test_line_span_whole_lines_endings_kept(lines: list[str], eol: str, trailing: bool, seed: int, k: int) -> None:
    text = eol.join(lines) + (eol if trailing else "")
    span = line_span(text, random.Random(seed), max_lines=k)
    if not text:
        assert span is None
        return
    pre, mid, suf = span.cut(text)
    assert pre + mid + suf == text
    starts = set(line_starts(text))
    assert span.start in starts and span.end in starts  # whole lines only
    assert mid and (mid.endswith(eol) or span.end == len(text))  # the middle carries its own line ending
    n_lines = sum(1 for s in line_starts(text)[:-1] if span.start <= s < span.end)
    assert 1 <= n_lines <= k
    if eol == "\r\n":
        assert "\r\n".join(mid.split("\r\n")) == mid and not mid.startswith("\n")  # CRLF never split


def test_crlf_file_middle_is_crlf() -> None:
    text = "".join(f"line {i}\r\n" for i in range(40))
    for seed in range(50):
        mid = line_span(text, random.Random(seed), max_lines=5).cut(text)[1]
        assert mid.endswith("\r\n") and mid.count("\r\n") == mid.count("\n") == mid.count("\r")


def test_rng_is_stable_per_file_and_seed() -> None:
    a = [rng_for("file:abc", 7, "file").random() for _ in range(3)]
    assert a == [rng_for("file:abc", 7, "file").random() for _ in range(3)]
    assert rng_for("file:abc", 8, "file").random() != a[0]
    assert rng_for("file:abc", 7, "repo").random() != a[0]
    # fixed across Python processes and versions (no hash() randomization): pin one value
    assert rng_for("x", 0, "file").random() == 0.9506571508155265
