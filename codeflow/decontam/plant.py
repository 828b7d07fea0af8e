"""Planted contamination: real benchmark items copied into real files, the way leaks look in scraped code.

Used by the demo (so its report has something to show), the tests and ``bench/decontam.py``. Each variant is a
transformation a matcher must see through:

* ``verbatim``: the item as the benchmark has it;
* ``reindented``: indentation width changed (4 -> 2 spaces, tabs -> 4 spaces) and the item nested in a class;
* ``renamed``: the function, its parameters and locals renamed consistently (Python ``tokenize``; attributes,
  keywords, builtins and docstrings untouched, as an IDE rename does);
* ``commented``: a comment line before every block and trailing comments on assignments;
* ``embedded``: verbatim, in the middle of a much larger real file (every variant is placed inside a host file;
  this one uses the largest host).
"""

from __future__ import annotations

import builtins
import io
import keyword
import re
import tokenize

VARIANTS = ("verbatim", "reindented", "renamed", "commented", "embedded")


def python_item(prompt: str, solution: str) -> str:
    """A HumanEval/MBPP item as one Python function (signature + docstring + body)."""
    return prompt + solution if prompt.endswith("\n") or solution.startswith("\n") else prompt + "\n" + solution


def reindent(code: str) -> str:
    out = []
    for line in code.expandtabs(4).split("\n"):
        stripped = line.lstrip(" ")
        depth = (len(line) - len(stripped)) // 4
        out.append("  " * depth + " " * ((len(line) - len(stripped)) % 4) + stripped if stripped else "")
    body = "\n".join("  " + ln if ln else ln for ln in out)
    return "class Solution:\n" + body


def rename(code: str) -> str:
    """Rename defined names (functions, parameters, assignment and loop targets) consistently."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code
    defined: list[str] = []
    sig = [t for t in toks if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT,
                                             tokenize.DEDENT)]
    skip = set(keyword.kwlist) | set(dir(builtins)) | {"self", "cls"}
    for i, t in enumerate(sig):
        if t.type != tokenize.NAME or t.string in skip:
            continue
        prev = sig[i - 1].string if i else ""
        nxt = sig[i + 1].string if i + 1 < len(sig) else ""
        if prev in ("def", "for", "class") or nxt == "=" or (prev in ("(", ",") and nxt in (",", ")", ":", "=")):
            if prev != "." and t.string not in defined:
                defined.append(t.string)
    mapping = {name: f"{'fn' if name[:1].islower() else 'Cls'}_{i}_{name[::-1].lower()}"
               for i, name in enumerate(defined)}
    lines = code.split("\n")
    edits: list[tuple[int, int, int, str]] = []
    for i, t in enumerate(toks):
        if t.type == tokenize.NAME and t.string in mapping and not (i and toks[i - 1].string == "."):
            (row, col), (_, end) = t.start, t.end
            edits.append((row - 1, col, end, mapping[t.string]))
    for row, col, end, new in sorted(edits, reverse=True):
        lines[row] = lines[row][:col] + new + lines[row][end:]
    return "\n".join(lines)


def add_comments(code: str) -> str:
    out = []
    for n, line in enumerate(code.split("\n")):
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if stripped.endswith(":") and not stripped.startswith(("#", '"', "'")):
            out.append(f"{indent}# step {n}: the next block handles this case")
        if re.match(r"^\s*\w+ = ", line) and "#" not in line and '"' not in line and "'" not in line:
            line += "  # keep the running value"
        out.append(line)
    return "\n".join(out)


def variant(code: str, kind: str) -> str:
    if kind in ("verbatim", "embedded"):
        return code
    if kind == "reindented":
        return reindent(code)
    if kind == "renamed":
        return rename(code)
    if kind == "commented":
        return add_comments(code)
    raise ValueError(f"unknown variant {kind!r}")


def plant(host: str, item: str, at: float = 0.5) -> str:
    """``item`` inserted into ``host`` at a line break near fraction ``at`` of its length."""
    cut = host.find("\n", int(len(host) * at))
    cut = len(host) if cut < 0 else cut + 1
    return host[:cut] + "\n\n" + item.rstrip("\n") + "\n\n\n" + host[cut:]
