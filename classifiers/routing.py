"""Domain routing for ``codeflow classify``: which model family scores a record.

* **code**: a record whose text is in a ``content`` column (code files from ``codeflow code``, code blocks from
  ``clean-cc``) is code.
* **math**: a text document is math when it shows mathematical notation often enough: at least ``MIN_HITS``
  LaTeX commands / environments / inline ``$…$`` spans / mathematical Unicode symbols, and at least
  ``MIN_PER_1K`` of them per 1,000 characters (so one ``$5`` price or a stray ``\\alpha`` in a long page does
  not make it math).
* **text**: every other document.

A domain without a model of its own falls back as documented in ``docs/classifiers.md``: math -> the text
models; code without a code model is left unscored (its quality fields are null and no keep rule applies).
"""

from __future__ import annotations

import re

MIN_HITS = 3
MIN_PER_1K = 0.5

_MATH = re.compile(
    r"\\(?:frac|dfrac|sum|prod|int|oint|sqrt|lim|infty|partial|nabla|cdot|times|leq|geq|neq|approx|equiv|"
    r"alpha|beta|gamma|delta|epsilon|theta|lambda|mu|sigma|omega|pi|mathbb|mathcal|mathrm|mathbf|operatorname|"
    r"left|right|begin\{(?:equation|align|gather|multline|eqnarray|matrix|pmatrix|bmatrix|cases)\*?\})"
    r"|\$\$[^$]{1,2000}\$\$|(?<![\w$])\$[^$\n]{1,200}[^\s$\d]\$(?!\d)"
    r"|[∑∏∫∮√∞∂∇≤≥≠≈≡∈∉⊂⊆∀∃→⇒⇔±×÷]")


def math_hits(text: str) -> int:
    return len(_MATH.findall(text))


def is_math(text: str) -> bool:
    if not text:
        return False
    hits = math_hits(text)
    return hits >= MIN_HITS and hits * 1000 / len(text) >= MIN_PER_1K


def domain_of(text: str, is_code: bool) -> str:
    if is_code:
        return "code"
    return "math" if is_math(text) else "text"
