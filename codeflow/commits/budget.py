"""Token counts of triplet texts: the trainer's tokenizer when one is given, else a characters-per-token estimate.

Why both: the budget (``--max-tokens``) is only exact in the trainer's tokens (``codeflow.model.tokenizer``'s
``tokenizer.json``, byte-level BPE with the triplet markers as special tokens), but mining must also run where no
tokenizer has been trained yet. The estimate is ``ceil(chars / CHARS_PER_TOKEN)`` with ``CHARS_PER_TOKEN = 2.5``:
on triplets of seven real repositories (Python, Go, Java, Rust, TypeScript) a 32k-vocabulary byte-level BPE
trained on their code gives 2.72 to 4.39 characters per token (median per repository 3.0 to 4.1;
docs/triplets.md), so the estimate over-counts and a text within the estimated budget is within the real one.

Counting is additive over the pieces between special tokens (the tokenizer splits them off before its BPE runs),
so the assembler counts each file view once and sums; ``count`` of the final text is asserted equal.
"""

from __future__ import annotations

import math
from functools import lru_cache

from codeflow.errors import CodeflowError

CHARS_PER_TOKEN = 2.5


class TokenizerUnavailable(CodeflowError):
    """``--tokenizer`` names no loadable tokenizer (or the ``tokenizers`` package is missing): a user error."""


@lru_cache(maxsize=4)
def _load(path: str):
    try:
        from codeflow.model.tokenizer import load_tokenizer
    except ImportError as e:  # the model extra is not installed
        raise TokenizerUnavailable(f"--tokenizer needs the 'model' extra (tokenizers): {e}") from None
    try:
        return load_tokenizer(path)
    except CodeflowError as e:
        raise TokenizerUnavailable(str(e)) from None


class TokenCounter:
    """``count(text)``: tokens of ``text`` with the tokenizer at ``path`` (a ``tokenizer.json`` or its folder), or
    the characters-per-token estimate when ``path`` is None."""

    def __init__(self, path: str | None = None, chars_per_token: float = CHARS_PER_TOKEN) -> None:
        self.path = path
        self.chars_per_token = chars_per_token
        self._tok = _load(path) if path else None

    @property
    def exact(self) -> bool:
        return self._tok is not None

    def count(self, text: str) -> int:
        if not text:
            return 0
        if self._tok is None:
            return math.ceil(len(text) / self.chars_per_token)
        return len(self._tok.encode(text, add_special_tokens=False).ids)


@lru_cache(maxsize=4)
def counter_for(path: str | None, chars_per_token: float = CHARS_PER_TOKEN) -> TokenCounter:
    """One counter per (tokenizer, estimate) and process: loading a tokenizer.json costs ~0.1 s."""
    return TokenCounter(path, chars_per_token)
