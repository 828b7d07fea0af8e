"""Code blocks from web pages are often interactive sessions, not source: turn them into the code they run.

A Python tutorial block like ``>>> x = 2\\n>>> x * 3\\n6`` is not valid Python, but the statements in it are.
``unprompt`` keeps the prompted lines without their prompts (``>>> `` / ``... `` for Python, ``$ `` / ``# ``-less
shell prompts) and drops the output lines, so the block is validated, and kept, as the code it shows. Blocks
without prompts are returned unchanged. Only lake input (``codeflow code --input``) goes through this; files
from repositories are never rewritten.
"""

from __future__ import annotations

import re

_PY_PROMPT = re.compile(r"^(>>>|\.\.\.)( |$)")
_SH_PROMPT = re.compile(r"^(?:\(\w[\w.-]*\) )?(?:[\w.@~:/-]*)?\$ ")


def unprompt(text: str, language: str | None) -> str:
    """The code of an interactive session (prompts stripped, output dropped), or ``text`` if it is not one."""
    lines = text.split("\n")
    if language == "python" and any(line.startswith(">>>") for line in lines[:3]):
        code = [_PY_PROMPT.sub("", line) for line in lines if _PY_PROMPT.match(line)]
        return "\n".join(code).rstrip() + "\n"
    if language == "bash" and lines and _SH_PROMPT.match(lines[0]):
        code = [_SH_PROMPT.sub("", line, count=1) for line in lines if _SH_PROMPT.match(line)]
        return "\n".join(code).rstrip() + "\n"
    return text
