"""A strict in-process applier for the git-style unified diffs the miner writes: the apply invariant.

Every triplet is checked before it is kept: applying ``patch`` to ``files_old`` must give ``files_new`` byte for
byte. This applier is deliberately strict (context must match exactly, no fuzz, no offset search), so a
triplet that passes here also passes ``git apply`` (which the tests run on real output).
"""

from __future__ import annotations

import re

HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


class PatchError(ValueError):
    """The patch does not apply to the given files."""


def split_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` kept, split on ``\\n`` only (``str.splitlines`` also splits on ``\\r``...)."""
    if not text:
        return []
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def unquote_path(raw: str) -> str:
    """A path from a ``---``/``+++`` line: strip git's C-style quoting (octal bytes are UTF-8)."""
    raw = raw.rstrip("\n").split("\t")[0] if not raw.startswith('"') else raw.rstrip("\n")
    if not raw.startswith('"'):
        return raw
    body = raw[1:raw.rindex('"')]
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in "01234567":
                out.append(int(body[i + 1:i + 4], 8))
                i += 4
                continue
            out.extend(_ESCAPES.get(nxt, nxt).encode())
            i += 2
            continue
        out.extend(ch.encode())
        i += 1
    return out.decode("utf-8")


def _strip_prefix(path: str) -> str | None:
    if path == "/dev/null":
        return None
    return path[2:] if path[:2] in ("a/", "b/") else path


def apply_patch(files: dict[str, str], patch: str) -> dict[str, str]:
    """Apply a multi-file git diff to ``{path: content}``; returns the new mapping or raises ``PatchError``."""
    result = dict(files)
    lines = split_lines(patch)
    i = 0
    n = len(lines)
    while i < n:
        if not lines[i].startswith("diff --git "):
            i += 1
            continue
        i += 1
        old_path = new_path = None
        seen_header = False
        while i < n and not lines[i].startswith(("diff --git ", "@@ ")):
            if lines[i].startswith("--- "):
                old_path = _strip_prefix(unquote_path(lines[i][4:]))
                seen_header = True
            elif lines[i].startswith("+++ "):
                new_path = _strip_prefix(unquote_path(lines[i][4:]))
            i += 1
        if not seen_header:
            raise PatchError("file section without ---/+++ header (binary or mode-only change)")
        source = split_lines(result.get(old_path, "")) if old_path else []
        if old_path and old_path not in result:
            raise PatchError(f"patch modifies missing file {old_path}")
        out: list[str] = []
        pos = 0
        while i < n and lines[i].startswith("@@ "):
            m = HUNK.match(lines[i])
            if not m:
                raise PatchError(f"bad hunk header {lines[i]!r}")
            old_start, old_len = int(m.group(1)), int(m.group(2) or 1)
            begin = old_start - 1 if old_len else old_start
            if begin < pos or begin > len(source):
                raise PatchError(f"hunk out of order in {old_path}")
            out.extend(source[pos:begin])
            pos = begin
            i += 1
            body: list[tuple[str, str]] = []
            while i < n and lines[i][:1] in (" ", "-", "+", "\\") and not lines[i].startswith("diff --git "):
                op, text = lines[i][0], lines[i][1:]
                if op == "\\":
                    if body:
                        prev_op, prev = body[-1]
                        body[-1] = (prev_op, prev[:-1] if prev.endswith("\n") else prev)
                else:
                    body.append((op, text))
                i += 1
            for op, text in body:
                if op in (" ", "-"):
                    if pos >= len(source) or source[pos] != text:
                        raise PatchError(f"context mismatch in {old_path} at line {pos + 1}")
                    pos += 1
                    if op == " ":
                        out.append(text)
                else:
                    out.append(text)
        out.extend(source[pos:])
        if old_path and old_path != new_path:
            result.pop(old_path, None)
        if new_path:
            result[new_path] = "".join(out)
    return result
