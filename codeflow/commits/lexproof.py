"""A cheap, exact-or-silent proof that a file's edit touches only comments (and Python docstrings).

The triplet scan's comment-only check (``scan._strip_comments``) compares both sides of a file with tree-sitter's
comment nodes and Python's statement-level strings removed, whitespace squashed. Parsing two ~100 kB files costs
~10 ms; most edits that reach the check reword a docstring or a comment, and a lexer can settle those from the
changed lines and the few lines around them:

1. Lex each side once with one C regex: strings (every Python prefix; f-strings only when no quote, backslash or
   ``#`` hides inside a replacement field, so the closing quote is certain on every Python version), comments,
   line continuations. Anything the lexer is not sure of (an unterminated or unsafe string, a stray backslash, a
   lone ``\\r``, unbalanced brackets at the end of the file, a nested Rust block comment) gives up on the file.
   The new side is lexed again only around the edit (``_relex``): past it, its tokens resynchronise with the old
   side's.
2. Grow each hunk to a window whose ends are not inside a string or comment, at the same place on both sides
   (the bytes before and after a zero-context hunk are identical).
3. Remove comments — and, in Python, strings that are certainly docstrings: a plain (non-f) string alone on its
   logical line at bracket depth 0, after the module start, a compound statement's header (``def``, ``class``,
   ``if`` … ending in ``:``) it is indented under, or a statement at the same indentation that is not a decorator
   — then compare the windows with trailing whitespace and blank lines dropped.

Equal windows mean the sides differ only inside spans the parse removes too, and the code around them is the same
token stream, so the parse would see the same tree outside them: the answer is "comment-only", exactly. Anything
else returns ``None`` and the caller parses. For languages whose comments are pure lexical extras (Go, Rust) the
lexical strip *is* the parse's strip, so unequal windows are an exact "code changed" as well.

The scan runs its regex pre-test first and asks for a proof only where that leaves the file open, so its verdicts
are exactly those of pre-test + parse. Only the languages with a lexer here get a proof (``LEXERS``); every other
one always parses. ``bench/triplets.py --check-proof`` re-decides every proved file of real histories with the
parse.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from itertools import accumulate
from operator import attrgetter, sub

import numpy as np

# ---- lexers ---------------------------------------------------------------------------------------------
# One regex per language, used with finditer. Every alternative begins with a literal byte, so the regex engine
# skips code between tokens at C speed (a group or lookbehind in front would make it try every position). The
# alternatives that match a lone quote / backslash / comment opener the lexer cannot place carry an empty group
# (``lastindex`` set): any such token makes the lexer give up on the file. A token's kind is read from its first
# bytes (``Lexed.kind``).


def _fstring(q: bytes, triple: bool) -> bytes:
    """A safe f-string from its opening quote: replacement fields hold no backslash, no ``#``, and strings only of
    the other quote kind (of either kind in a triple-quoted one, never three quotes in a row), so its closing
    quote is the same under PEP 701 and before it. The prefix is checked behind."""
    o = b"'" if q == b'"' else b'"'
    nl = b"" if triple else b"\\n"
    lit = (rb"[^%s\\{}]++|%s(?!%s%s)" % (q, q, q, q)) if triple else rb"[^%s\\{}\n]++" % q
    inner = rb"%s[^%s%s\\\n{}]*%s" % (o, o, q, o)  # a string of the other quote kind inside a field
    if triple:  # a field may also hold a short string of the outer kind, never three quotes in a row
        inner += rb"|%s[^%s\\\n{}]*%s(?!%s)" % (q, q, q, q)
    field = rb"\{(?:[^{}'\"\\#%s]++|%s|\{[^{}'\"\\#\n]*+\})*+\}" % (nl, inner)
    delim = q * 3 if triple else q + b"(?!%s%s)" % (q, q)  # a single quote never opens a triple-quoted string
    first = 3 if triple else 1
    behind = rb"(?:(?<=[fFtT]%s)|(?<=[fFtT][rR]%s))" % (b"." * first, b"." * first)
    return rb"%s%s(?:%s|\\.|\{\{|\}\}|%s)*+%s" % (delim, behind, lit, field, q * (3 if triple else 1))


def _plain(q: bytes, triple: bool) -> bytes:
    """A string that is not an f-string, from its opening quote."""
    first = b"." * (3 if triple else 1)
    behind = rb"(?<![fFtT]%s)(?<![fFtT][rR]%s)" % (first, first)
    if triple:
        return rb"%s%s(?:[^%s\\]++|\\.|%s(?!%s%s))*+%s" % (q * 3, behind, q, q, q, q, q * 3)
    return rb"%s(?!%s%s)%s(?:[^%s\\\n]++|\\.)*+%s" % (q, q, q, behind, q, q)


_PY_STRINGS = [f(q, t) for t in (True, False) for q in (b'"', b"'") for f in (_plain, _fstring)]
PYTHON = re.compile(b"|".join([rb"#[^\n]*", rb"\\\n", *_PY_STRINGS, rb'"()', rb"'()", rb"\\()"]), re.S)
# Go: interpreted strings, raw strings (backquotes, multi-line), runes; block comments do not nest.
GO = re.compile(rb'//[^\n]*|/\*(?:[^*]++|\*(?!/))*+\*/|/\*()|"(?:[^"\\\n]++|\\.)*+"|"()|`[^`]*+`|`()'
                rb"|'(?:[^'\\\n]|\\[^\n])(?:[^'\\\n]|\\[^\n])*+'|'()", re.S)
# Rust: strings span lines, raw strings r#"..."# (prefixes b, c; up to three #), byte / char literals vs lifetimes;
# block comments nest (a nested opener makes the lexer unsure). Tokens start at the quote (or a raw string's first
# #): an alternative starting with a letter would stop the engine at every r, b and c of the code.
_CHAR = (rb"(?:[^'\\\n\x80-\xff]|[\xc0-\xff][\x80-\xbf]+|\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F_]{1,8}\}"
         rb"|[nrt\\0'\"]))'")


def _after(prefix: bytes, first: bytes) -> bytes:
    """The token's first byte ``first`` follows ``prefix``, which follows a non-identifier byte or a line start."""
    return rb"(?:(?<=[^A-Za-z0-9_]%s%s)|(?<=^%s%s))" % (prefix, first, prefix, first)


def _raw(hashes: int) -> bytes:
    first = b"#" if hashes else b'"'
    behind = rb"(?:%s|%s)" % (_after(b"r", first), _after(b"[bc]r", first))
    h = b"#" * hashes
    body = rb'[^"]++|"(?!%s)' % h if hashes else rb'[^"]++'
    return rb'%s%s%s(?:%s)*+"%s' % (first, behind, h[1:] + b'"' if hashes else b"", body, h)


RUST = re.compile(
    rb"//[^\n]*|/\*(?:[^*/]++|\*(?!/)|/(?!\*))*+\*/|/\*()"
    + b"".join(b"|" + _raw(h) for h in (0, 1, 2, 3))
    + rb"|#(?:%s|%s)()" % (_after(b"r", b"#"), _after(b"[bc]r", b"#"))  # a raw string opener that does not close
    + rb'|"' + _after(b"[bc]", b'"') + rb'(?:[^"\\]++|\\.)*+"'
    + rb'|"(?<![A-Za-z0-9_]")(?:[^"\\]++|\\.)*+"|"()'
    + rb"|'" + _after(b"b", b"'") + _CHAR + rb"|'(?<![A-Za-z0-9_]')" + _CHAR
    + rb"|'[A-Za-z_][A-Za-z0-9_]*+(?!['A-Za-z0-9_])|'()", re.S | re.M)
LEXERS = {"python": PYTHON, "go": GO, "rust": RUST}
LEXICAL = frozenset({"go", "rust"})  # comments are lexical extras: the proof is exact both ways
_LASTINDEX = attrgetter("lastindex")




_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"()[]{}")


def _net(data: bytes, start: int = 0, end: int | None = None) -> int:
    """Opening minus closing brackets in ``data[start:end]`` (C counts, no slicing)."""
    end = len(data) if end is None else end
    c = data.count
    return c(b"(", start, end) + c(b"[", start, end) + c(b"{", start, end) \
        - c(b")", start, end) - c(b"]", start, end) - c(b"}", start, end)


def _net_all(data: bytes) -> int:
    """``_net`` of a whole buffer: one C pass keeps only the brackets, then counts run on those."""
    only = data.translate(None, _NOT_BRACKETS)
    return _net(only)


def _lex(data: bytes, lexer: re.Pattern, pos: int = 0) -> tuple[list[int], list[int]] | None:
    """(starts, ends) of the tokens from ``pos`` on, None when one is unsure. C-level passes over the matches (no
    Python per token)."""
    matches = list(lexer.finditer(data, pos))
    if any(map(_LASTINDEX, matches)):
        return None
    if not matches:
        return [], []
    starts, ends = zip(*map(re.Match.span, matches), strict=True)
    return list(starts), list(ends)


_MARGIN = 4  # bytes a match attempt reads behind its start or past its end (lookbehind, lookahead, a failed try)


def _relex(base: Lexed, data: bytes, lexer: re.Pattern) -> tuple[list[int], list[int]] | None:
    """``_lex(data)`` from ``base``, a lexing of ``old`` with no unsure token: tokens ending ``_MARGIN`` bytes
    before the first changed byte are kept, the lexer runs from there until it produces a token that ``base`` has
    at the same distance from the end of the file, past the last changed byte; the rest are ``base``'s, shifted.

    Sound because every match attempt of these lexers reads at most ``_MARGIN`` bytes around the token it makes
    (an attempt that could read further ends in a token, an unsure one at worst, which ``base`` does not have)."""
    p, old_end, new_end = edit_span(base.data, data)
    shift = new_end - old_end
    k = bisect_right(base.ends, p - _MARGIN)
    starts, ends = base.starts[:k], base.ends[:k]
    resume = ends[-1] if k else 0
    j = len(base.starts)
    for m in lexer.finditer(data, resume):
        a, b = m.span()
        if a >= new_end + _MARGIN:
            i = bisect_left(base.starts, a - shift)
            if i < len(base.starts) and base.starts[i] == a - shift and base.ends[i] == b - shift:
                j = i
                break
        if m.lastindex:
            return None
        starts.append(a)
        ends.append(b)
    starts.extend(x + shift for x in base.starts[j:])
    ends.extend(x + shift for x in base.ends[j:])
    return starts, ends


def edit_span(old: bytes, new: bytes) -> tuple[int, int, int]:
    """The one edit turning ``old`` into ``new``: (start, end in ``old``, end in ``new``), the longest common
    prefix and (in what is left) suffix kept. Shared by re-lexing and tree-sitter's incremental re-parse."""
    start = common_prefix(old, new)
    limit = min(len(old), len(new)) - start
    suffix = common_prefix(old[len(old) - limit:][::-1], new[len(new) - limit:][::-1]) if limit > 0 else 0
    return start, len(old) - suffix, len(new) - suffix


def common_prefix(a: bytes, b: bytes) -> int:
    """Length of the common prefix of ``a`` and ``b`` (binary search over C slice compares, no byte loop)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class Lexed:
    """One side of a file: its strings / comments / continuations, and bracket depth at clean positions."""

    __slots__ = ("data", "starts", "ends", "inner", "inner_at", "ok", "hash_comments", "_anchor", "_newlines")

    def __init__(self, data: bytes, lexer: re.Pattern, base: Lexed | None = None) -> None:
        """Lex ``data``; with ``base`` (an ``ok`` lexing of an earlier version of the file) only the edited
        region is lexed again (``_relex``)."""
        self.data = data
        self.hash_comments = lexer is PYTHON  # elsewhere a token starting with # is a raw string (Rust r#"..."#)
        self.starts: list[int] = []
        self.ends: list[int] = []
        self._newlines: np.ndarray | None = None
        self.ok = b"\r" not in data.replace(b"\r\n", b"\n") if b"\r" in data else True
        if not self.ok:
            return
        spans = _relex(base, data, lexer) if base is not None and base.ok else _lex(data, lexer)
        if spans is None:
            self.ok = False
            return
        self.starts, self.ends = spans
        self.inner = b"".join(map(data.__getitem__, map(slice, self.starts, self.ends)))
        self.inner_at = list(accumulate(map(sub, self.ends, self.starts), initial=0))
        self._anchor = (0, 0)  # a clean position and its depth: depth() counts only the bytes in between
        self.ok = _net_all(data) == _net_all(self.inner)

    def newlines(self) -> np.ndarray:
        if self._newlines is None:
            self._newlines = newlines(self.data)
        return self._newlines

    def kind(self, i: int) -> str:
        """c (comment), k (line continuation) or s (string, other literal) for token ``i``."""
        head = self.data[self.starts[i]:self.starts[i] + 2]
        if head == b"//" or head == b"/*" or (self.hash_comments and head[:1] == b"#"):
            return "c"
        return "k" if head == b"\\\n" else "s"

    def token_at(self, pos: int) -> int | None:
        """Index of the token with start < pos < end (``pos`` strictly inside it), else None."""
        i = bisect_right(self.starts, pos - 1) - 1
        return i if i >= 0 and self.ends[i] > pos else None

    def depth(self, pos: int) -> int:
        """Bracket depth at ``pos`` (not inside a token): code brackets between the last asked position and it."""
        a, d = self._anchor
        lo, hi = min(a, pos), max(a, pos)
        i, j = bisect_right(self.ends, lo), bisect_right(self.ends, hi)  # tokens wholly inside [lo, hi)
        net = _net(self.data, lo, hi) - _net(self.inner, self.inner_at[i], self.inner_at[j])
        d = d + net if pos >= a else d - net
        self._anchor = (pos, d)
        return d


# ---- windows -------------------------------------------------------------------------------------------------


def newlines(data: bytes) -> np.ndarray:
    """Offsets of every ``\\n`` in ``data`` (one vectorised pass; a Python loop over lines costs ~0.3 ms per
    100 kB file)."""
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)


def _at(nl: np.ndarray, line: int, size: int) -> int:
    """Offset of the start of 1-based ``line`` (``size`` past the end)."""
    if line <= 1:
        return 0
    return int(nl[line - 2]) + 1 if line - 2 < len(nl) else size


def _clean(lx: Lexed, pos: int) -> int:
    """How far ``pos`` must move back to leave every token it cuts (0 when it cuts none)."""
    i = lx.token_at(pos)
    return 0 if i is None else pos - lx.starts[i]


def _windows(a: Lexed, b: Lexed, hunks: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]] | None:
    """(old start, old end, new start, new end) per run of hunks, in whole lines, neither end inside a token on
    either side; between two windows (and before the first, after the last) the sides hold the same bytes."""
    old, new = a.data, b.data
    lo, ln = a.newlines(), b.newlines()
    wins: list[list[int]] = []
    for o, n, oc, nc in hunks:
        so, sn = _at(lo, o if oc else o + 1, len(old)), _at(ln, n if nc else n + 1, len(new))
        eo = _at(lo, o + oc, len(old)) if oc else so
        en = _at(ln, n + nc, len(new)) if nc else sn
        while True:  # back over tokens the start cuts (the bytes before it are the same on both sides)
            back = max(_clean(a, so), _clean(b, sn))
            if not back:
                break
            so, sn = so - back, sn - back
            line = so - (old.rfind(b"\n", 0, so) + 1)
            so, sn = so - line, sn - line
        while True:  # forward over tokens the end cuts, then to the next line start
            fwd = 0
            for lx, pos in ((a, eo), (b, en)):
                i = lx.token_at(pos)
                if i is not None:
                    fwd = max(fwd, lx.ends[i] - pos)
            if not fwd:
                break
            nl = old.find(b"\n", eo + fwd)
            fwd = (nl + 1 if nl >= 0 else len(old)) - eo
            eo, en = eo + fwd, en + fwd
        if wins and so <= wins[-1][1]:  # reaches into the previous run: one window
            wins[-1][1], wins[-1][3] = eo, en
        else:
            wins.append([so, eo, sn, en])
    # the construction re-checked: every gap holds the same bytes on both sides, no end cuts a token
    prev_o = prev_n = 0
    for so, eo, sn, en in wins:
        if old[prev_o:so] != new[prev_n:sn] or so > eo or sn > en:
            return None
        if any(lx.token_at(x) is not None for lx, x in ((a, so), (a, eo), (b, sn), (b, en))):
            return None
        prev_o, prev_n = eo, en
    if old[prev_o:] != new[prev_n:]:
        return None
    return [(w[0], w[1], w[2], w[3]) for w in wins]


# ---- Python docstrings -------------------------------------------------------------------------------------

_PREFIXES = frozenset({b"", b"r", b"u", b"b", b"br", b"rb"})
# the keywords that open a block with ``:`` at the end of their header (a lambda or annotation does not)
_COMPOUND = re.compile(rb"(?:async[ \t]+)?(?:def|class|if|elif|else|for|while|try|except|finally|with|match|case)"
                       rb"(?![A-Za-z0-9_\x80-\xff])")
_WS = b" \t\f\r"


def _ident(c: int) -> bool:
    return c >= 0x80 or c == 0x5F or 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _indent(data: bytes, line_start: int) -> int | None:
    """Spaces before the first non-blank byte of the line (None when a tab or form feed makes it ambiguous)."""
    end = line_start
    while end < len(data) and data[end] in b" \t\f":
        end += 1
    seg = data[line_start:end]
    return None if b"\t" in seg or b"\f" in seg else len(seg)


class _Py:
    """Docstring verdicts for one lexed Python side."""

    def __init__(self, lx: Lexed) -> None:
        self.lx = lx

    def _last_code(self, pos: int) -> int:
        """Index of the last code byte before ``pos`` (comments and whitespace skipped; a string's closing quote
        counts), or -1 at the start of the module."""
        lx, data = self.lx, self.lx.data
        i = bisect_left(lx.ends, pos + 1) - 1  # tokens ending at or before pos
        q = pos - 1
        while q >= 0:
            if data[q] in b" \t\f\r\n":
                q -= 1
                continue
            while i >= 0 and lx.starts[i] > q:
                i -= 1
            if i >= 0 and lx.starts[i] <= q < lx.ends[i]:
                if lx.kind(i) == "c":
                    q = lx.starts[i] - 1
                    continue
                if lx.kind(i) == "k":  # a continuation: not a logical line start
                    return -2
            return q
        return -1

    def _continued(self, ls: int) -> bool:
        """The line starting at ``ls`` continues the previous one (a backslash-newline token ends there; a
        backslash at the end of a comment is no continuation)."""
        lx = self.lx
        i = bisect_left(lx.ends, ls)
        return i < len(lx.ends) and lx.ends[i] == ls and lx.kind(i) == "k"

    def _logical_start(self, q: int) -> int | None:
        """Start of the line where the logical line holding byte ``q`` begins (depth 0, no continuation before)."""
        lx, data = self.lx, self.lx.data
        ls = data.rfind(b"\n", 0, q) + 1
        for _ in range(200):
            if lx.token_at(ls) is None and lx.depth(ls) == 0 and not self._continued(ls):
                return ls
            if ls == 0:
                return None
            ls = data.rfind(b"\n", 0, ls - 1) + 1
        return None

    def docstring(self, i: int) -> bool:
        """Token ``i`` is certainly a statement-level string expression (the parse strips it)."""
        lx, data = self.lx, self.lx.data
        if lx.kind(i) != "s":
            return False
        s, e = lx.starts[i], lx.ends[i]
        p = s
        while p > 0 and _ident(data[p - 1]):
            p -= 1
        if data[p:s].lower() not in _PREFIXES:
            return False
        ls = data.rfind(b"\n", 0, p) + 1
        if data[ls:p].strip(_WS) or self._continued(ls):
            return False
        rest = data.find(b"\n", e)
        tail = data[e:rest if rest >= 0 else len(data)].strip(_WS)
        if tail and not tail.startswith(b"#"):
            return False
        if lx.depth(p) != 0:
            return False
        me = _indent(data, ls)
        q = self._last_code(p)
        if q == -1:
            return me == 0  # the first statement of the module
        if q < 0:
            return False
        start = self._logical_start(q)
        if start is None:
            return False
        their = _indent(data, start)
        if me is None or their is None:
            return False
        if data[start + their:start + their + 1] == b"@":
            return False  # a decorator must be followed by a definition
        if data[q:q + 1] == b":":  # the first statement of the block a compound statement's header opens
            return me > their and _COMPOUND.match(data, start + their) is not None
        return me == their  # the next statement of the same block


def _strip_window(lx: Lexed, start: int, end: int, py: _Py | None) -> bytes:
    """The window without comments (and docstrings), trailing whitespace and blank lines."""
    data = lx.data
    i = bisect_left(lx.starts, start)
    out, pos = [], start
    while i < len(lx.starts) and lx.starts[i] < end:
        if lx.kind(i) == "c" or (py is not None and py.docstring(i)):
            out.append(data[pos:lx.starts[i]])
            pos = lx.ends[i]
        i += 1
    out.append(data[pos:end])
    lines = (line.rstrip(_WS) for line in b"".join(out).split(b"\n"))
    return b"\n".join(line for line in lines if line)


# ---- the proof -------------------------------------------------------------------------------------------

_CACHE: OrderedDict[tuple[str, str], Lexed] = OrderedDict()


def lexed(oid: str, data: bytes, lang: str, base: Lexed | None = None) -> Lexed:
    """``Lexed`` of a blob, cached by id (one commit's new side is a later commit's old side); no id, no cache."""
    if not oid:
        return Lexed(data, LEXERS[lang], base)
    key = (oid, lang)
    lx = _CACHE.get(key)
    if lx is None:
        lx = _CACHE[key] = Lexed(data, LEXERS[lang], base)
        if len(_CACHE) > 8:  # hits are consecutive commits on one file (~8% of calls); entries hold whole blobs
            _CACHE.popitem(last=False)
    return lx


def comment_only(lang: str | None, old: bytes, new: bytes, hunks: list[tuple[int, int, int, int]],
                 old_id: str = "", new_id: str = "") -> bool | None:
    """Whether old and new are equal without comments / docstrings and whitespace, or None when not certain.

    ``hunks``: (old start, new start, old count, new count) of a zero-context diff of ``old`` and ``new``."""
    if lang not in LEXERS or not hunks:
        return None
    a = lexed(old_id, old, lang)
    b = lexed(new_id, new, lang, base=a)  # lexed again only where it differs from the old side
    if not (a.ok and b.ok):
        return None
    wins = _windows(a, b, hunks)
    if wins is None:
        return None
    if lang != "python":  # comments are lexical extras: the lexical strip is the parse's strip, both ways
        return all(squash(_strip_window(a, so, eo, None)) == squash(_strip_window(b, sn, en, None))
                   for so, eo, sn, en in wins)
    pa, pb = _Py(a), _Py(b)
    if all(_strip_window(a, so, eo, pa) == _strip_window(b, sn, en, pb) for so, eo, sn, en in wins):
        return True
    return None  # a docstring verdict may be more cautious than the parse: let the parse decide


def squash(data: bytes) -> bytes:
    """Content without any whitespace (``bytes.split`` runs in C: ~20x a regex on large files)."""
    return b"".join(data.split())
