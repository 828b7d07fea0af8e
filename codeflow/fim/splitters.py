"""Character and line splitters: where to cut a file into (prefix, middle, suffix).

Every splitter returns a ``Span`` of *code point* offsets into the Python string, so a cut can never fall
inside a UTF-8 sequence: ``text[:start] + text[start:end] + text[end:]`` re-encodes to the original bytes.
Randomness comes only from the ``random.Random`` passed in, which the caller seeds from (file id, seed).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """Half-open ``[start, end)`` code point range of the middle."""

    start: int
    end: int

    def cut(self, text: str) -> tuple[str, str, str]:
        return text[: self.start], text[self.start: self.end], text[self.end:]


def char_cap(n_chars: int, max_chars: int = 0, max_fraction: float = 1.0) -> int:
    """Longest char middle allowed in a file of ``n_chars``: ``min(max_chars, max_fraction * n_chars)``, at least 1
    (0 for an empty file); ``max_chars <= 0`` means no cap (``n_chars``)."""
    if max_chars <= 0:
        return n_chars
    return min(n_chars, max(1, min(max_chars, int(max_fraction * n_chars))))


def char_span(text: str, rng: random.Random, max_chars: int = 0, max_fraction: float = 1.0) -> Span:
    """A random code point range.

    Uncapped (``max_chars <= 0``): two uniform cut points in ``[0, len]``, sorted (Megatron/Bavarian et al.: any
    part may be empty). Why a cap: two uniform points give a middle of a third of the file on average, 63k
    characters in a large file, which no completion model is asked to write and which spends the sample on
    copying. Capped: a length uniform in ``[1, cap]`` (``cap`` from :func:`char_cap`), then a uniform start.
    """
    n = len(text)
    if max_chars <= 0:
        a, b = rng.randint(0, n), rng.randint(0, n)
        return Span(min(a, b), max(a, b))
    cap = char_cap(n, max_chars, max_fraction)
    length = rng.randint(min(1, cap), cap)
    start = rng.randint(0, n - length)
    return Span(start, start + length)


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def line_starts(text: str) -> list[int]:
    """Offsets where each line starts, plus ``len(text)``. ``\\r\\n``, ``\\r`` and ``\\n`` each end a line and stay
    with it, so a middle made of whole lines carries its own line endings (CRLF files stay CRLF)."""
    starts = [m.start() for m in _LINE.finditer(text)]
    starts.append(len(text))
    return starts


def line_span(text: str, rng: random.Random, max_lines: int = 15, tries: int = 8) -> Span | None:
    """A run of 1..``max_lines`` whole lines (ExecRepoBench's random-line recipe), preferring non-blank middles.

    Returns None for an empty text. Up to ``tries`` draws are made to avoid a whitespace-only middle; the last
    draw is kept if all are blank (a file of blank lines still gets a valid span).
    """
    starts = line_starts(text)
    n_lines = len(starts) - 1
    if n_lines <= 0:
        return None
    span = None
    for _ in range(max(1, tries)):
        first = rng.randrange(n_lines)
        count = rng.randint(1, max(1, max_lines))
        span = Span(starts[first], starts[min(first + count, n_lines)])
        if text[span.start: span.end].strip():
            break
    return span

