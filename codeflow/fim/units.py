"""Retrievable units of a repository's files: top-level definitions, class members, module headers.

Why units and not files: the file defining most of a library's names is usually its largest (attrs'
``_make.py``), and a whole-file context never fits it; a unit (one function, one class, or, for a large class,
its skeleton plus single methods) does. Grammar languages are split with tree-sitter (one parse per file per
repository, shared by every target of the repo); other files become line windows.

A unit knows the names it defines (the tree-sitter ``name`` field, or a definition regex as fallback), its
span in the file (character offsets, so units of one file render in file order), and for class-like units a
*skeleton*: the header and each member's signature with bodies elided by ``ELISION``.
"""

from __future__ import annotations

import bisect
import re
from typing import NamedTuple

ELISION = "⋮"  # marks code left out: between units of one file, and in place of elided bodies
MAX_UNIT_CHARS = 3000  # a definition larger than this is split into its members + a skeleton
WINDOW_LINES = 40
_MODIFIERS = ("export", "default", "public", "private", "protected", "internal", "static", "final", "abstract",
              "sealed", "open", "data", "async", "declare", "override", "inline", "extern", "unsafe")
_KEYWORDS = ("def", "class", "interface", "enum", "record", "struct", "union", "trait", "type", r"function\*?", "func",
             "fn", "const", "let", "var", "val", "object", "fun", "typedef", "module", "namespace", "macro_rules!",
             "#define")
_PUB = r"pub(?:\([^)\n]*\))?"
_AFTER_KEYWORD = r"(?:\([^)\n]*\)\s*)?\*?([A-Za-z_$][\w$]*)"
DEF_NAME = re.compile(  # a definition keyword at the start of a code line, after modifiers (never in prose)
    rf"^[ \t]*(?:(?:{'|'.join(_MODIFIERS)}|{_PUB})\s+)*(?:{'|'.join(_KEYWORDS)})\s+{_AFTER_KEYWORD}", re.M)
_ASSIGN = re.compile(r"^([A-Za-z_][\w]*)\s*(?::[^=\n]*)?=(?!=)", re.M)
_BODY_FIELDS = ("body", "declaration_list", "class_body")
_GLUE_TYPES = frozenset({"comment", "line_comment", "block_comment", "package_clause", "package_declaration",
                         "preproc_include", "use_declaration", "using_directive", "extern_crate_declaration"})
_CONTAINER_TYPES = ("export_statement", "decorated_definition", "template_declaration", "annotation")


class Unit(NamedTuple):
    """A slice ``[start, end)`` of file ``file`` (character offsets) that context may show on its own.

    A named tuple, not a frozen dataclass: a repository makes thousands and a frozen dataclass costs three
    times as much to build."""

    file: int
    start: int
    end: int
    kind: str  # header | def | member | window
    names: tuple[str, ...]
    skeleton: str | None = None  # class-like units: header + member signatures, bodies elided


def _by_first_char(words: tuple[str, ...]) -> str:
    """An alternation of regex words grouped by their (literal) first character: the engine tests one character
    per group instead of every word. Each word here must be followed by whitespace, so at most one alternative
    of a group can lead to a match and their order does not change what matches."""
    groups: dict[str, list[str]] = {}
    for w in words:
        groups.setdefault(w[0], []).append(w[1:])
    return "|".join(re.escape(c) + (f"(?:{'|'.join(rest)})" if rest != [""] else "") for c, rest in groups.items())


# The same two patterns with a literal newline for ``^`` (run on "\n" + text): much faster to scan. The definition
# pattern also groups its words by first character and never backtracks into indentation, spaces or modifiers (a
# shorter run of any of them is followed by a character the next part rejects): the same matches as ``DEF_NAME``
# (tests/fim/test_context_units.py compares them), in half the time.
_DEF_NL = re.compile(rf"\n[ \t]*+(?=[a-z#])(?:(?:{_by_first_char(_MODIFIERS)}|{_PUB})\s++)*+"
                     rf"(?:{_by_first_char(_KEYWORDS)})\s++{_AFTER_KEYWORD}")
_ASSIGN_NL = re.compile("\n" + _ASSIGN.pattern[1:])


def regex_names(text: str) -> tuple[str, ...]:
    """Names a piece of code defines, by keyword regex (the fallback where no grammar or no name field)."""
    padded = "\n" + text
    found = _DEF_NL.findall(padded) + _ASSIGN_NL.findall(padded)
    return tuple(dict.fromkeys(found))


def named_lines(text: str) -> tuple[list[int], list[str]]:
    """Line starts and the names defined there (``regex_names`` with positions), sorted by position."""
    padded = "\n" + text
    hits = sorted([(m.start(), m.group(1)) for m in _DEF_NL.finditer(padded)] +
                  [(m.start(), m.group(1)) for m in _ASSIGN_NL.finditer(padded)])
    return [p for p, _ in hits], [n for _, n in hits]


def _name_of(node) -> list[str]:
    """Defined names of a declaration node: its ``name`` field, through export/decorator wrappers and
    declarator lists (``const a = 1, b = 2``; Go ``type ( A ...; B ... )``)."""
    n = node.child_by_field_name("name")
    if n is not None:
        return [n.text.decode("utf-8", "replace")]
    for field in ("declaration", "definition"):
        inner = node.child_by_field_name(field)
        if inner is not None:
            return _name_of(inner)
    out: list[str] = []
    for child in node.named_children:
        if child.type.endswith(("declarator", "_spec", "declaration", "definition")):
            out.extend(_name_of(child))
    return out


def _inner(node):
    """The declaration inside export/decorator wrappers (where the class body lives)."""
    for field in ("declaration", "definition"):
        inner = node.child_by_field_name(field)
        if inner is not None:
            return _inner(inner)
    return node


def _body(node):
    node = _inner(node)
    for field in _BODY_FIELDS:
        b = node.child_by_field_name(field)
        if b is not None and b.named_child_count:
            return b
    return None


class _Splitter:
    def __init__(self, file: int, text: str, data: bytes) -> None:
        self.file, self.text, self.data = file, text, data
        self.ascii = len(text) == len(data)
        self.units: list[Unit] = []

    def char(self, b: int) -> int:
        return b if self.ascii else len(self.data[:b].decode("utf-8", "replace"))

    def slice(self, s: int, e: int) -> str:
        return self.data[s:e].decode("utf-8", "replace")

    def signature(self, node) -> str:
        """A member's text up to its body, the body elided; short bodyless members (fields) whole."""
        body = _inner(node).child_by_field_name("body")
        if body is None:
            head = self.slice(node.start_byte, node.end_byte)
            return head if len(head) <= 200 else head.split("\n", 1)[0] + f" {ELISION}"
        head = self.slice(node.start_byte, body.start_byte).rstrip()
        doc = ""
        first = body.named_children[0] if body.named_child_count else None
        if first is not None and first.type == "expression_statement" and first.named_child_count and \
                first.named_children[0].type == "string":  # a Python docstring stays in the skeleton
            doc = self.slice(first.start_byte, first.end_byte)
            doc = doc if len(doc) <= 400 else doc[:400] + ELISION
            indent = " " * (first.start_point[1])
            doc = f"\n{indent}{doc}\n{indent}"
        return f"{head}{doc}{ELISION}" if doc else f"{head} {ELISION}"

    def skeleton(self, node, body) -> str:
        lines = [self.slice(node.start_byte, body.start_byte).rstrip()]
        for member in body.named_children:
            if member.type in ("comment", "line_comment", "block_comment"):
                continue
            lines.append(" " * member.start_point[1] + self.signature(member))
        tail = self.slice(body.end_byte - 1, body.end_byte) if self.data[body.end_byte - 1:body.end_byte] == b"}" \
            else ""
        return "\n".join(lines) + ("\n" + tail if tail else "")

    def add(self, s: int, e: int, kind: str, names, skeleton: str | None = None) -> None:
        while s > 0 and self.data[s - 1:s] in (b" ", b"\t"):  # keep the indentation of the first line
            s -= 1
        if e > s:
            self.units.append(Unit(self.file, self.char(s), self.char(e), kind, tuple(dict.fromkeys(names)),
                                   skeleton))

    def split(self, nodes, depth: int = 0) -> None:
        glue_start = glue_end = None
        for node in nodes:
            names = [] if node.type in _GLUE_TYPES or "import" in node.type else _name_of(node)
            if not names and node.type not in _CONTAINER_TYPES:
                if glue_start is None:
                    glue_start = node.start_byte
                glue_end = node.end_byte
                if glue_end - glue_start >= MAX_UNIT_CHARS:
                    self.add(glue_start, glue_end, "header" if depth == 0 else "member",
                             regex_names(self.slice(glue_start, glue_end)))
                    glue_start = None
                continue
            if glue_start is not None:
                self.add(glue_start, glue_end, "header" if depth == 0 else "member",
                         regex_names(self.slice(glue_start, glue_end)))
                glue_start = None
            names = names or list(regex_names(self.slice(node.start_byte, min(node.end_byte, node.start_byte + 300))))
            body = _body(node)
            if node.end_byte - node.start_byte > MAX_UNIT_CHARS and body is not None and depth < 3:
                skel = self.skeleton(node, body)
                # the skeleton unit spans the header only; members are their own units
                self.add(node.start_byte, body.start_byte + 1, "def", names, skel)
                self.split(body.named_children, depth + 1)
            else:
                self.add(node.start_byte, node.end_byte, "def" if depth == 0 else "member", names)
        if glue_start is not None:
            self.add(glue_start, glue_end, "header" if depth == 0 else "member",
                     regex_names(self.slice(glue_start, glue_end)))


def line_windows(file: int, text: str, lines: int = WINDOW_LINES) -> list[Unit]:
    """Fixed windows of whole lines (files without a grammar, or that do not parse)."""
    out = []
    pos = 0
    all_lines = text.splitlines(keepends=True)
    for i in range(0, len(all_lines), lines):
        chunk = "".join(all_lines[i:i + lines])
        out.append(Unit(file, pos, pos + len(chunk), "window", regex_names(chunk)))
        pos += len(chunk)
    return out


def file_units(file: int, text: str, language: str | None,
               max_parse_bytes: int = 1 << 20) -> tuple[list[Unit], object]:
    """The units of one file, in file order (sorted by start), and the tree-sitter tree (None without a grammar;
    the FIM splitter reuses it)."""
    from codeflow.fim.ast_split import has_level, parse

    data = text.encode("utf-8")
    if language and len(data) <= max_parse_bytes and has_level(language, "statement"):
        tree = parse(language, data)
        if not tree.root_node.has_error or tree.root_node.named_child_count > 1:
            sp = _Splitter(file, text, data)
            sp.split(tree.root_node.named_children)
            if sp.units:
                return sorted(sp.units, key=lambda u: (u.start, u.end)), tree
        return line_windows(file, text), tree
    return line_windows(file, text), None


# ---- outline units: the same cut without a parse -------------------------------------------------------------
# Why: parsing every file of a repository with tree-sitter costs more than the whole old whole-file context
# (a Go repo parses at ~10 MB/s); the context index only needs where definitions start and end, which code
# layout already says: a definition starts on a line at its block's indentation and runs to the next such line.

_CLOSER = r"(?![}\])]|else\b|elif\b|except\b|finally\b|catch\b|end\b|\*/)"
PREAMBLE = re.compile(  # comment, decorator and annotation line starts: they belong to the next definition
    r"#\[|#(?!\s*(?:include|define|if|ifdef|ifndef|endif|else|elif|pragma|undef|import)\b)|//|/\*|"
    r"\*|@|<!--")
_LINE_CODE = re.compile(r"[ \t]*\S")  # a line's first visible character
_DECL_NL = re.compile(r"\n[ \t]*(?!" + PREAMBLE.pattern.replace("\n", "") + r")\S")  # next code line
# possessive identifier and spaces: a shorter identifier or fewer spaces is followed by a character no later part
# accepts, so backtracking into them only wastes time (half of this function's cost on Java class bodies)
_MEMBER_NAME = re.compile(r"[^=(;:{\n]*?([A-Za-z_$][\w$]*+)\s*+(?:<[^>\n]*>\s*)?[(=;:{]")
_STATEMENT_WORDS = frozenset({"return", "if", "for", "while", "switch", "case", "throw", "new", "else", "do", "try",
                              "yield", "await", "break", "continue", "goto", "defer", "go", "select", "assert",
                              "super", "this", "print", "del", "raise", "with", "pass", "match"})
_START_CACHE: dict[str, re.Pattern[str]] = {}


def _starts(indent: str) -> re.Pattern[str]:
    """The newline before each line that opens a block at exactly ``indent``: not blank, not a closer (``}``,
    ``else``, ``except`` ...). A literal ``\n`` first lets the regex engine skip ahead instead of trying ``^``
    at every character."""
    pat = _START_CACHE.get(indent)
    if pat is None:
        pat = _START_CACHE[indent] = re.compile(rf"\n{re.escape(indent)}(?=[^\s]){_CLOSER}")
    return pat


def _deeper(indent: str) -> re.Pattern[str]:
    key = "deeper:" + indent
    pat = _START_CACHE.get(key)
    if pat is None:
        pat = _START_CACHE[key] = re.compile(rf"\n({re.escape(indent)}[ \t]+)\S")
    return pat


def _member_name(line: str) -> list[str]:
    """The declared name of a class member's first line in a C-like language (``public T get(``, ``x = 1;``,
    ``readonly x: T``): the last identifier before the first ``( = ; : {``, unless it is a statement keyword."""
    m = _MEMBER_NAME.match(line.lstrip())
    if m is None or m.group(1) in _STATEMENT_WORDS:
        return []
    return [m.group(1)]


_TYPE_HEADER = re.compile(r"\b(?:class|struct|interface|enum|impl|trait|object|record|type|namespace|module|union)\b")
_PY_ATTR = re.compile(r"\s*([A-Za-z_]\w*)\s*(?::[^=\n]*)?=(?!=)")
_PY_QUOTES = re.compile(r"\"\"\"|\'\'\'")  # the opening of a triple-quoted string
_DOCSTRING = re.compile(r"([ \t]*)((?:\"\"\"|\'\'\')[\s\S]*?(?:\"\"\"|\'\'\'))")
_HEADER_END = re.compile(r"(?:[{:]|=>)[ \t]*(?:(?://|#)[^\n]*)?\r?$", re.M)
_FIRST_IDENT = re.compile(r"\s*([A-Za-z_]\w*)")


def _triple_quoted(text: str) -> list[tuple[int, int]]:
    """Spans of Python's triple-quoted strings (docstrings), left to right: an opening quote, then ``str.find``
    of the same quote. The same spans as the lazy back-reference regex this replaces, which tried the closing
    quote at every character (a tenth of the index build on attrs). An unclosed opening is passed by one
    character, as the regex retried there."""
    out: list[tuple[int, int]] = []
    pos = 0
    search, find = _PY_QUOTES.search, text.find
    while (m := search(text, pos)) is not None:
        start = m.start()
        end = find(m.group(), start + 3)
        if end < 0:
            pos = start + 1
            continue
        out.append((start, end + 3))
        pos = end + 3
    return out


class _Outliner:
    def __init__(self, file: int, text: str, language: str) -> None:
        self.file, self.text = file, text
        self.language = language
        self.units: list[Unit] = []
        self.name_pos, self.name_of = named_lines(text)
        # lines inside Python's triple-quoted strings (docstrings) never start a block
        self.strings = _triple_quoted(text) if language == "python" else []
        self.string_starts = [a for a, _ in self.strings]
        self._decls: dict[tuple[int, int], tuple[int, int]] = {}

    def names_in(self, s: int, e: int) -> list[str]:
        lo, hi = bisect.bisect_left(self.name_pos, s), bisect.bisect_left(self.name_pos, e)
        return self.name_of[lo:hi]

    def outside_strings(self, starts: list[int]) -> list[int]:
        """``starts`` (sorted) without those inside a triple-quoted string (never a block start), in one merge
        walk over the string spans instead of a bisection per start."""
        spans, span_starts, n = self.strings, self.string_starts, len(self.strings)
        k = bisect.bisect_right(span_starts, starts[0]) - 1
        out = []
        for p in starts:
            while k + 1 < n and span_starts[k + 1] <= p:
                k += 1
            if k < 0 or p >= spans[k][1]:
                out.append(p)
        return out

    def member_name(self, decl: str) -> list[str]:
        """The name a member of a class-like body declares without a definition keyword: Go struct fields and
        interface methods start with it, Python class attributes are assignments, C-like members (Java, TS,
        C#, Kotlin fields and methods) name it before ``( = ; : {``."""
        if self.language == "go":
            m = _FIRST_IDENT.match(decl)
            return [m.group(1)] if m and m.group(1) not in _STATEMENT_WORDS else []
        if self.language == "python":
            m = _PY_ATTR.match(decl)
            return [m.group(1)] if m else []
        return _member_name(decl)

    def header_end(self, decl_start: int, be: int) -> int:
        """End of a definition's header (a multi-line signature): the first line ending in ``{`` / ``:`` / ``=>``
        within 30 lines of the declaration line, else the declaration line."""
        stop = min(be, decl_start + 4000)
        m = _HEADER_END.search(self.text, decl_start, stop)
        if m is not None and self.text.count("\n", decl_start, m.start()) < 30:
            nl = self.text.find("\n", m.end(), be)
            return be if nl < 0 else nl + 1
        nl = self.text.find("\n", decl_start, be)
        return be if nl < 0 else nl + 1

    def trim(self, s: int, e: int) -> int:
        """``e`` moved back over trailing whitespace (never before ``s``)."""
        while e > s and self.text[e - 1] in " \t\r\n":
            e -= 1
        return e

    def blocks(self, s: int, e: int, indent: str) -> list[tuple[int, int]]:
        """``[start, end)`` of each block at ``indent`` in ``[s, e)``; comment/decorator lines join the block
        they precede, a closer line the block it closes."""
        starts = [m.start() + 1 for m in _starts(indent).finditer(self.text, max(0, s - 1), e)]
        if self.strings and starts:
            starts = self.outside_strings(starts)
        if not starts or starts[0] != s:
            starts.insert(0, s)
        out: list[tuple[int, int]] = []
        pending: int | None = None
        for i, st in enumerate(starts):
            en = starts[i + 1] if i + 1 < len(starts) else e
            if i + 1 < len(starts) and PREAMBLE.match(self.text, st + len(indent)):
                pending = st if pending is None else pending
                continue
            out.append((pending if pending is not None else st, en))
            pending = None
        return out

    def split(self, s: int, e: int, indent: str, depth: int, typed: bool = False) -> list[tuple[int, int]]:
        """Units of the blocks of ``[s, e)`` at ``indent``; ``typed``: the body of a class-like definition (its
        members are declarations and name what they declare; a function body's statements do not)."""
        text = self.text
        glue: tuple[int, int] | None = None
        kind_plain = "def" if depth == 0 else "member"
        kind_glue = "header" if depth == 0 else "member"
        blocks = self.blocks(s, e, indent)
        for bs, be in blocks:
            be = self.trim(bs, be)
            if be <= bs:
                continue
            decl_start, decl_end = self.decl_line(bs, be)
            big = be - decl_start > MAX_UNIT_CHARS  # a long doc comment alone does not make a block big
            names = self.names_in(bs, decl_end if big else be)
            if typed and not names:
                names = self.member_name(text[decl_start:decl_end])
            if not names:
                if glue is not None and be - glue[0] <= MAX_UNIT_CHARS:
                    glue = (glue[0], be)
                    continue
                if glue is not None:
                    self.add(glue[0], glue[1], kind_glue)
                glue = (bs, be)
                continue
            if glue is not None:
                self.add(glue[0], glue[1], kind_glue)
                glue = None
            body = self.body(self.header_end(decl_start, be), be, indent) if big and depth < 3 else None
            if body is None:
                self.add(bs, be, kind_plain, names)
                continue
            b_start, b_end, inner = body
            members = self.split(b_start, b_end, inner, depth + 1,
                                 bool(_TYPE_HEADER.search(text, decl_start, decl_end)))
            self.add(bs, b_start, "def", names, self.skeleton(decl_start, b_start, b_end, be, members))
        if glue is not None:
            self.add(glue[0], glue[1], kind_glue)
        return blocks

    def decl_line(self, bs: int, be: int) -> tuple[int, int]:
        """Start and end (after its newline) of a block's declaration line: the first line that is not blank and
        not a comment / decorator / annotation. Memoized: ``skeleton`` asks again for every member ``split``
        has just looked at (half of all calls on a Java repository)."""
        hit = self._decls.get((bs, be))
        if hit is None:
            hit = self._decls[(bs, be)] = self._decl_line(bs, be)
        return hit

    def _decl_line(self, bs: int, be: int) -> tuple[int, int]:
        text = self.text
        m = _LINE_CODE.match(text, bs)
        if m is None or PREAMBLE.match(text, m.end() - 1):
            m = _DECL_NL.search(text, bs, be)
            if m is None:
                return bs, be
        pos = text.rfind("\n", 0, m.end() - 1) + 1
        nl = text.find("\n", pos, be)
        return pos, (be if nl < 0 else nl + 1)

    def body(self, bs: int, be: int, indent: str) -> tuple[int, int, str] | None:
        """The indented body of a block after its declaration line ``bs``: its first deeper line, the end before
        a closer at ``indent``, and the body's indentation; None when there are no deeper lines."""
        text = self.text
        m = _deeper(indent).search(text, max(0, bs - 1), be)
        if m is None:
            return None
        b_start, inner = m.start() + 1, m.group(1)
        last = text.rfind("\n", bs, be) + 1
        b_end = last if last > b_start and not text[last:be].startswith(inner) else be
        return b_start, self.trim(b_start, b_end), inner

    def skeleton(self, bs: int, b_start: int, b_end: int, be: int, members: list[tuple[int, int]]) -> str:
        lines = [self.text[bs:b_start].rstrip()]
        for ms, me in members:  # each member's declaration line, the rest elided
            me = self.trim(ms, me)
            ds, de = self.decl_line(ms, me)
            decl = self.text[ds:de].rstrip()
            if decl.strip():
                he = self.header_end(ds, me)
                decl = self.text[ds:he].rstrip() if he - ds <= 400 else decl  # a multi-line signature whole
                doc = self.docstring(he, me) if self.language == "python" else None
                if doc is not None:  # a Python docstring stays in the skeleton
                    indent, text = doc
                    lines.append(f"{decl}\n{indent}{text}\n{indent}{ELISION}")
                    continue
                lines.append(decl + (f" {ELISION}" if ds + len(decl) < me else ""))
        tail = self.text[b_end:be].strip()
        return "\n".join(lines) + ("\n" + tail if tail else "")

    def docstring(self, pos: int, end: int) -> tuple[str, str] | None:
        """The indentation and text (at most 400 characters) of a docstring starting the body at ``pos``."""
        m = _DOCSTRING.match(self.text, pos, end)
        if m is None:
            return None
        doc = m.group(2)
        return m.group(1), doc if len(doc) <= 400 else doc[:400] + ELISION

    def add(self, s: int, e: int, kind: str, names=(), skeleton: str | None = None) -> None:
        if e > s:
            self.units.append(Unit(self.file, s, e, kind, tuple(dict.fromkeys(names)), skeleton))


def outline_units(file: int, text: str, language: str | None) -> list[Unit]:
    """Units of one file from its layout (no parse): top-level blocks, and the members plus a skeleton of a block
    larger than ``MAX_UNIT_CHARS``; files without a language become line windows. Sorted by start."""
    if not language:
        return line_windows(file, text)
    o = _Outliner(file, text, language)
    o.split(0, len(text), "", 0)
    return sorted(o.units, key=lambda u: (u.start, u.end)) or line_windows(file, text)
