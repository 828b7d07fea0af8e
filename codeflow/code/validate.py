"""Validate one source file: cheap byte-level checks first, then a tree-sitter parse, then quality heuristics.

``validate_file`` is the pure core of ``codeflow code``: bytes and a path in, a ``Verdict`` out (a reject
reason with a human detail, or the decoded content with its metrics). The order of checks is the order of
cost, so a 100 MB blob or a PNG never reaches the parser:

    symlink / submodule / corrupt_object -> too_large -> vendored -> lfs_pointer -> binary -> unknown_language
    -> generated (by name) -> config (by path) -> decode_error -> empty -> fixture -> generated (header, minified)
    -> syntax_error -> quality

Parse errors that lie only inside macro token trees or on preprocessor lines are tolerated (``tolerance``): the
file is kept and ``Verdict.tolerated`` names the kind, so the stage counts them. Line-length limits are measured
outside comments: a long URL in a doc comment does not make code unreadable.

Metrics are chosen to be cheap: ``node_count`` is O(1) in tree-sitter; line metrics are one pass over the bytes
and depth / function count / comment bytes one walk over the tree (``ast_metrics``). Parse, walk and line pass
run in C when the ``_native`` extension is built (``codeflow.code.native``), else in Python (py-tree-sitter) with
the same results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple

from codeflow.code import native, tolerance
from codeflow.code.languages import LANGUAGES, get_language, get_parser, language_for_path
from codeflow.code.quality import CodeConfig
from codeflow.pathrules import LFS_POINTER as LFS_PREFIX  # one home for the marker and the path rules
from codeflow.pathrules import first_dir_in, matching_name, matching_path

# One translate maps ASCII digits to "0", ASCII letters to "a", everything else to " "; two counts follow.
# UTF-8 continuation bytes are never ASCII, so this is exact for the ASCII part of any UTF-8 text.
_CLASSES = bytes(48 if 48 <= b < 58 else 97 if (65 <= b < 91 or 97 <= b < 123) else 32 for b in range(256))
_NON_ASCII_ALNUM = re.compile(r"[^\x00-\x7f\W_]")  # letters and digits outside ASCII (CJK comments, ...)
# C++-only syntax at a line start or after whitespace: a ``.h`` file showing it is parsed as C++ directly,
# instead of failing the C grammar first (one parse instead of two for C++ headers).
_CPP_HINT = re.compile(rb"^\s*(?:namespace\s+\w|template\s*<|class\s+\w+[^;]*\{|(?:public|private|protected)\s*:"
                       rb"|using\s+namespace\b)|\bstd::", re.MULTILINE)


@dataclass
class Verdict:
    """What ``validate_file`` decided. ``reason`` None means keep ``content``."""

    reason: str | None
    detail: str = ""
    language: str | None = None
    content: str | None = None
    metrics: dict = field(default_factory=dict)
    tolerated: tuple[str, ...] = ()  # kinds of parse errors tolerated in a kept file (``tolerance``)


class ErrorSite(NamedTuple):
    """Where a parse first failed (``first_error``): what ``error_detail`` reports, from either parse."""

    is_missing: bool
    type: str
    start_byte: int
    end_byte: int
    row: int
    column: int  # in bytes, as tree-sitter counts


@cache
def _kind_classes(language: str) -> bytes:
    """Kind id -> 1 for function-level nodes, 2 for comments, 0 otherwise: one byte index per node in the walk.

    65536 entries: ERROR nodes have kind id 65535 (``ts_builtin_sym_error``), past ``node_kind_count``.
    """
    from codeflow.code.languages import comment_node_types

    lang = get_language(language)
    table = bytearray(max(lang.node_kind_count + 1, 1 << 16))
    for t in LANGUAGES[language].fim_node_types["function"]:
        table[lang.id_for_node_kind(t, True) or 0] = 1
    for t in comment_node_types(language):
        table[lang.id_for_node_kind(t, True) or 0] = 2
    table[0] = 0
    return bytes(table)


def generated_by_header(content: str, markers: tuple[str, ...], n_lines: int) -> str | None:
    head = "\n".join(content.split("\n", n_lines)[:n_lines]).lower()
    for m in markers:
        if m in head:
            return m
    return None


def line_metrics(content: str, data: bytes) -> dict:
    """Lines (as ``str.splitlines``), max / mean line length (characters), alphanumeric and digit ratios.

    ``data`` is ``content`` encoded as UTF-8. One C pass over it when ``_native`` is built, else the Python below.
    """
    stats = native.line_stats()
    if stats is not None:
        n, longest, total, digits, alnum, ascii_only = stats(data)
        n = n or 1
        if not ascii_only:
            alnum += len(_NON_ASCII_ALNUM.findall(content))
        return {"lines": n, "max_line_length": longest, "mean_line_length": total / n,
                "alnum_ratio": alnum / len(content) if content else 0.0,
                "_digit_ratio": digits / alnum if alnum else 0.0}
    lines = content.splitlines() or [""]
    n = len(lines)
    classes = data.translate(_CLASSES)
    digits = classes.count(b"0")
    alnum = digits + classes.count(b"a")
    if not content.isascii():
        alnum += len(_NON_ASCII_ALNUM.findall(content))
    return {"lines": n, "max_line_length": max(map(len, lines)), "mean_line_length": sum(map(len, lines)) / n,
            "alnum_ratio": alnum / len(content) if content else 0.0,
            "_digit_ratio": digits / alnum if alnum else 0.0}


def first_error(root):
    """Where parsing first failed: the first MISSING node, or the first token of the first ERROR node that is
    not part of a complete construct.

    tree-sitter often wraps everything from the start of an unclosed construct (say a class cut off by
    truncation) in one ERROR node that begins at 1:1 with the package and import declarations inside. Complete,
    error-free named children of an ERROR parsed fine, so they are skipped: the reported token is the opener of
    the construct that never closed (``class``, ``do``, ``{``), never code before it, never past the cut.
    """
    node = root
    while True:
        if node.is_missing:
            return node
        for child in node.children:
            if child.is_error or child.is_missing or child.has_error:
                node = child
                break
            if node.is_error and not (child.is_named and child.child_count):
                return child
        else:
            return node

def error_site(node) -> ErrorSite:
    """A py-tree-sitter node's ``ErrorSite``, the same tuple the C ``check`` returns for its first error."""
    row, column = node.start_point
    return ErrorSite(node.is_missing, node.type, node.start_byte, node.end_byte, row, column)


def error_detail(site: ErrorSite, data: bytes) -> str:
    """``line:col`` (1-based, column in characters) and what tree-sitter saw there."""
    line_start = site.start_byte - site.column
    col = len(data[line_start:site.start_byte].decode("utf-8", "replace")) + 1
    if site.is_missing:
        what = f"missing {site.type}"
    else:
        snippet = data[site.start_byte:min(site.end_byte, site.start_byte + 40)].decode("utf-8", "replace")
        what = f"unexpected {snippet.splitlines()[0] if snippet.strip() else repr(snippet)}"
    return f"{site.row + 1}:{col} {what}"


def tree_metrics(tree, language: str) -> dict:
    """Max depth, function-level node count and comment bytes of a py-tree-sitter tree, in one preorder cursor walk.

    The Python twin of the C walk in ``_native.c`` (int compares only). A comment node's subtree is not entered:
    grammars nest comment-named nodes (Rust ``line_comment`` holds a ``doc_comment`` and a marker, Lua
    ``comment`` holds ``comment_content``), and only the outermost counts.
    """
    return _walk(tree, _kind_classes(language))


def _walk(tree, classes: bytes) -> dict:
    cursor = tree.walk()
    first_child, next_sibling, parent = cursor.goto_first_child, cursor.goto_next_sibling, cursor.goto_parent
    depth = max_depth = n_funcs = comment_bytes = 0
    while True:
        node = cursor.node
        cls = classes[node.kind_id]
        if cls == 2:
            comment_bytes += node.end_byte - node.start_byte
        else:
            if cls:
                n_funcs += 1
            if first_child():
                depth += 1
                if depth > max_depth:
                    max_depth = depth
                continue
        while not next_sibling():
            if not parent():
                return {"max_depth": max_depth, "function_count": n_funcs, "_comment_bytes": comment_bytes}
            depth -= 1


def python_check(data: bytes, language: str, classes: bytes | None) -> tuple:
    """Parse with py-tree-sitter: (first error site or None, node_count, max_depth, function_count, comment_bytes).

    The walk runs only on a clean tree and with ``classes`` (else the last three are None): the reference
    that ``_native.check`` must equal.
    """
    tree = get_parser(language).parse(data)
    root = tree.root_node
    if root.has_error:
        return error_site(first_error(root)), root.descendant_count, None, None, None
    if classes is None:
        return None, root.descendant_count, None, None, None
    m = _walk(tree, classes)
    return None, root.descendant_count, m["max_depth"], m["function_count"], m["_comment_bytes"]


def native_status() -> str:
    """``native`` when parse and walk run in the C extension here, else ``python: <why>`` (shown by make install)."""
    native.checker(python_check, _kind_classes)
    return native.status()


def parse_checked(data: bytes, language: str, path: str = "", metrics: bool = True) -> tuple[str, tuple]:
    """Parse with the language's grammar, then its fallback if the first parse has errors and ``path`` allows it.

    Returns (language used, ``python_check``'s tuple), from the C extension when it is in use.
    """
    check = native.checker(python_check, _kind_classes) or python_check
    spec = LANGUAGES[language]
    may_fall_back = spec.may_fall_back(path)
    if language == "c" and may_fall_back and _CPP_HINT.search(data):
        language = "cpp"
    result = check(data, language, _kind_classes(language) if metrics else None)
    if result[0] is None:
        return language, result
    fallback = spec.fallback if may_fall_back and language == spec.name else None
    if fallback:
        result2 = check(data, fallback, _kind_classes(fallback) if metrics else None)
        if result2[0] is None:
            return fallback, result2
    return language, result


def validate_file(path: str | None, data: bytes | None, size: int, kind: str = "blob",
                  language_hint: str | None = None, config: CodeConfig = CodeConfig(), detail: str = "") -> Verdict:
    """Decide keep or reject for one file; never raises on bad content."""
    path = path or ""
    if kind != "blob":
        reason = {"link": "symlink", "submodule": "submodule"}.get(kind, "corrupt_object")
        return Verdict(reason, detail or f"{kind} entry")
    if size > config.max_bytes or data is None:
        return Verdict("too_large", f"{size} bytes > {config.max_bytes}")
    vendored = first_dir_in(path, config.vendored_dirs)
    if vendored:
        return Verdict("vendored", f"under {vendored}/")
    if data.startswith(LFS_PREFIX) and len(data) < 1024:
        return Verdict("lfs_pointer", data.split(b"\n", 2)[1].decode("utf-8", "replace")[:100]
                       if b"\n" in data else "git-lfs pointer")
    nul = data.find(b"\x00")
    if nul >= 0:
        return Verdict("binary", f"NUL byte at offset {nul}")
    language = language_hint or language_for_path(path, data[:200].split(b"\n", 1)[0])
    if language is None or (config.languages and language not in config.languages):
        ext = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
        return Verdict("unknown_language", f"extension {ext!r}" if ext else "no extension or shebang")
    pattern = matching_name(path, config.generated_names)
    if pattern:
        return Verdict("generated", f"name matches {pattern}", language)
    pattern = matching_path(path, config.config_paths)
    if pattern:
        return Verdict("config", f"path matches {pattern}", language)
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return Verdict("decode_error", f"invalid UTF-8 at byte {e.start}", language)
    if content.startswith("\ufeff"):
        content = content[1:]
        data = data[3:]
    if not content.strip():
        return Verdict("empty", "no non-whitespace content", language)
    fixture = _fixture(path, len(data), language, config)
    if fixture:
        return Verdict("fixture", fixture, language)
    marker = generated_by_header(content, config.generated_markers, config.generated_header_lines)
    if marker:
        return Verdict("generated", f"header says {marker!r}", language)
    metrics = line_metrics(content, data)
    if metrics["mean_line_length"] > config.minified_mean_line_length:
        return Verdict("generated", f"minified: mean line length {metrics['mean_line_length']:.0f}", language)

    # Grammars whose last rule needs its line ended (make, dockerfile): a missing final newline is not an error.
    parsed = data + b"\n" if LANGUAGES[language].final_newline and not data.endswith(b"\n") else data
    primary = language
    language, (err, node_count, max_depth, functions, comment_bytes) = parse_checked(parsed, language, path,
                                                                                     config.ast_metrics)
    tolerated: tuple[str, ...] = ()
    if err is not None:
        language, err, tolerated, counts = _tolerated_parse(parsed, primary, language, path, ErrorSite(*err),
                                                              config)
        if err is not None:
            return Verdict("syntax_error", error_detail(err, parsed), language)
        node_count, max_depth, functions, comment_bytes = counts
    metrics["bytes"] = len(data)
    metrics["node_count"] = node_count
    if config.ast_metrics:
        metrics.update(max_depth=max_depth, function_count=functions, comment_ratio=comment_bytes / len(data))
    else:
        metrics.update(max_depth=None, function_count=None, comment_ratio=None)

    reason = quality_reason(metrics, language, config, parsed)
    del metrics["_digit_ratio"]
    if reason:
        return Verdict(reason[0], reason[1], language)
    return Verdict(None, "", language, content, metrics, tolerated)


def _fixture(path: str, size: int, language: str, config: CodeConfig) -> str | None:
    """Why a file is a test fixture (a tiny markup / data file under a test folder), else None."""
    if size >= config.fixture_max_bytes or LANGUAGES[language].kind not in config.fixture_kinds:
        return None
    folder = first_dir_in(path, config.fixture_dirs)
    return f"{size} bytes of {language} under {folder}/" if folder else None


def _tolerated_parse(data: bytes, primary: str, language: str, path: str, err: ErrorSite,
                     config: CodeConfig) -> tuple[str, ErrorSite | None, tuple[str, ...], tuple]:
    """A parse with errors, judged by ``tolerance``: (language, error or None, tolerated kinds, metric counts).

    ``primary`` is the file's language, ``language`` the one ``parse_checked`` reported. Tries that one, then the
    other of the language and its fallback (``.h``: C and C++), on the py-tree-sitter tree, so the
    decision and the metrics of a tolerated file are the same whether the C extension is in use or not. When
    some error is not tolerated, the first such error is the one reported (``err`` when none was tolerated).
    """
    candidates = [language]
    spec = LANGUAGES[primary]
    if spec.may_fall_back(path):
        candidates += [lang for lang in (primary, spec.fallback) if lang != language]
    if not config.tolerate_grammar_gaps or not any(c in tolerance.LANGUAGES for c in candidates):
        return language, err, (), ()
    for lang in candidates:
        if lang not in tolerance.LANGUAGES:
            continue
        tree = get_parser(lang).parse(data)
        judged = tolerance.tolerate(tree.root_node, data, lang)
        if judged.blocking is None:
            if not config.ast_metrics:
                return lang, None, judged.kinds, (tree.root_node.descendant_count, None, None, None)
            m = _walk(tree, _kind_classes(lang))
            return lang, None, judged.kinds, (tree.root_node.descendant_count, m["max_depth"], m["function_count"],
                                              m["_comment_bytes"])
        if lang == language and judged.kinds:  # some errors were tolerated: report the first one that was not
            err = error_site(first_error(judged.blocking))
    return language, err, (), ()


_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")  # what str.splitlines splits on


def lines_outside_comments(data: bytes, language: str) -> tuple[int, int]:
    """(max line length, total characters) of ``data`` with every comment removed but its line breaks kept.

    Why: a long line inside a comment (a URL or a table in a doc comment) does not make the code long-lined.
    Python's doc comments are docstrings: a statement that is only a string literal counts as a comment here.
    Only computed for files over a line-length limit, so the extra parse costs nothing on the rest.
    """
    classes = _kind_classes(language)
    cursor = get_parser(language).parse(data).walk()
    pieces, pos = [], 0
    while True:
        node = cursor.node
        if classes[node.kind_id] == 2 or (language == "python" and _is_docstring(node)):
            pieces.append(data[pos:node.start_byte].decode("utf-8"))
            comment = data[node.start_byte:node.end_byte].decode("utf-8")
            pieces.append("".join(ch for ch in comment if ch in _LINE_BREAKS))
            pos = node.end_byte
        elif cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                pieces.append(data[pos:].decode("utf-8"))
                lines = "".join(pieces).splitlines() or [""]
                return max(map(len, lines)), sum(map(len, lines))


def _is_docstring(node) -> bool:
    """A Python statement that is one string literal: a docstring (or a bare string used as a comment)."""
    return (node.type == "expression_statement" and node.named_child_count == 1
            and node.named_children[0].type in ("string", "concatenated_string"))


def quality_reason(m: dict, language: str, config: CodeConfig, data: bytes | None = None) -> tuple[str, str] | None:
    """StarCoder / OpenCoder-style heuristics with per-language thresholds; None when the file passes.

    Line lengths over a limit are measured again without comments when ``data`` (the parsed bytes) is given.
    """
    t = config.thresholds_for(language)
    longest, mean, where = m["max_line_length"], m["mean_line_length"], ""
    if data is not None and (longest > t.max_line_length or mean > t.max_mean_line_length):
        longest, total = lines_outside_comments(data, language)
        mean, where = total / m["lines"], " outside comments"
    if longest > t.max_line_length:
        return "long_lines", f"max line length{where} {longest} > {t.max_line_length}"
    if mean > t.max_mean_line_length:
        return "long_lines", f"mean line length{where} {mean:.1f} > {t.max_mean_line_length}"
    if m["alnum_ratio"] < t.min_alnum_ratio:
        return "low_alphanumeric", f"alphanumeric ratio {m['alnum_ratio']:.3f} < {t.min_alnum_ratio}"
    if m["bytes"] >= t.data_like_min_bytes and m["_digit_ratio"] > t.max_digit_ratio:
        return "data_like", f"digits are {m['_digit_ratio']:.2f} of alphanumerics > {t.max_digit_ratio}"
    if t.min_bytes and m["bytes"] < t.min_bytes:
        return "data_size", f"{m['bytes']} bytes < {t.min_bytes}"
    if t.max_bytes and m["bytes"] > t.max_bytes:
        return "data_size", f"{m['bytes']} bytes > {t.max_bytes}"
    return None
