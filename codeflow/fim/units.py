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

import re
from dataclasses import dataclass

ELISION = "⋮"  # marks code left out: between units of one file, and in place of elided bodies
MAX_UNIT_CHARS = 3000  # a definition larger than this is split into its members + a skeleton
WINDOW_LINES = 40
DEF_NAME = re.compile(  # a definition keyword at the start of a code line, after modifiers (never in prose)
    r"^[ \t]*(?:(?:export|default|public|private|protected|internal|static|final|abstract|sealed|open|data|async|"
    r"declare|override|inline|extern|unsafe|pub(?:\([^)\n]*\))?)\s+)*"
    r"(?:def|class|interface|enum|record|struct|union|trait|type|function\*?|func|fn|const|let|var|val|object|fun|"
    r"typedef|module|namespace|macro_rules!|#define)\s+(?:\([^)\n]*\)\s*)?\*?([A-Za-z_$][\w$]*)", re.M)
_ASSIGN = re.compile(r"^([A-Za-z_][\w]*)\s*(?::[^=\n]*)?=(?!=)", re.M)
_BODY_FIELDS = ("body", "declaration_list", "class_body")
_GLUE_TYPES = frozenset({"comment", "line_comment", "block_comment", "package_clause", "package_declaration",
                         "preproc_include", "use_declaration", "using_directive", "extern_crate_declaration"})
_CONTAINER_TYPES = ("export_statement", "decorated_definition", "template_declaration", "annotation")


@dataclass(frozen=True)
class Unit:
    """A slice ``[start, end)`` of file ``file`` (character offsets) that context may show on its own."""

    file: int
    start: int
    end: int
    kind: str  # header | def | member | window
    names: tuple[str, ...]
    skeleton: str | None = None  # class-like units: header + member signatures, bodies elided


def regex_names(text: str) -> tuple[str, ...]:
    """Names a piece of code defines, by keyword regex (the fallback where no grammar or no name field)."""
    found = [m.group(1) for m in DEF_NAME.finditer(text)] + _ASSIGN.findall(text)
    return tuple(dict.fromkeys(found))


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
