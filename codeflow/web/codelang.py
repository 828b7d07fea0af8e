"""Guess a code block's programming language: class attributes first, then content.

Highlighters name the language in classes (``language-python`` from Prism/highlight.js/markdown renderers,
``highlight-python3`` from Sphinx, ``lang-java`` / ``prettyprint``, ``brush: js`` from SyntaxHighlighter,
``sourceCode cpp`` from pandoc) or a ``data-lang`` attribute, on the block or a wrapper around it. Without a
hint, a few strong content signatures decide; weak evidence gives ``None`` rather than a wrong label.
"""

from __future__ import annotations

import re

ALIASES = {
    "py": "python", "python3": "python", "py3": "python", "pycon": "python", "python2": "python", "ipython": "python",
    "pytb": "python", "ipython3": "python",
    "js": "javascript", "jsx": "javascript", "node": "javascript", "mjs": "javascript", "ecmascript": "javascript",
    "ts": "typescript", "tsx": "typescript",
    "sh": "shell", "bash": "shell", "zsh": "shell", "console": "shell", "shell-session": "shell",
    "shellsession": "shell", "sh-session": "shell", "ps1": "powershell", "posh": "powershell",
    "c++": "cpp", "cxx": "cpp", "hpp": "cpp", "cc": "cpp", "h": "c", "objc": "objective-c",
    "objectivec": "objective-c",
    "cs": "csharp", "c#": "csharp", "golang": "go", "rs": "rust", "rb": "ruby", "kt": "kotlin", "yml": "yaml",
    "html5": "html", "xhtml": "html", "htm": "html", "xml": "xml", "svg": "xml", "postgresql": "sql", "mysql": "sql",
    "plpgsql": "sql", "tsql": "sql", "psql": "sql", "dockerfile": "docker", "make": "makefile", "mk": "makefile",
    "md": "markdown", "tex": "latex", "hs": "haskell", "ml": "ocaml", "pl": "perl", "vb": "vbnet", "f90": "fortran",
}
KNOWN = {
    "python", "javascript", "typescript", "java", "c", "cpp", "csharp", "go", "rust", "ruby", "php", "swift",
    "kotlin", "scala", "shell", "powershell", "sql", "html", "css", "scss", "xml", "json", "yaml", "toml", "ini",
    "docker", "makefile", "markdown", "latex", "haskell", "ocaml", "perl", "lua", "r", "julia", "dart", "elixir",
    "erlang", "clojure", "fortran", "matlab", "objective-c", "vbnet", "groovy", "nginx", "diff", "graphql", "rst",
    "cmake", "protobuf", "zig", "nim", "fsharp", "lisp", "scheme", "asm", "nasm", "solidity", "vue", "svelte",
}
# Classes that name no language (or say "no highlighting"): never a guess.
NOT_LANGUAGES = {"text", "none", "plain", "plaintext", "default", "output", "nohighlight", "notranslate", "code",
                 "highlight", "pre", "literal", "literal-block", "sourcecode", "source", "prettyprint", "hljs",
                 "linenums", "doctest"}
CLASS_PATTERNS = (
    re.compile(r"^(?:language|lang|highlight|brush|syntax|source|code)[-_:](?P<lang>[\w+#.-]+)$", re.I),
    re.compile(r"^(?P<lang>[\w+#]+)[-_](?:code|source|highlight)$", re.I),
)
BRUSH = re.compile(r"brush\s*:\s*(?P<lang>[\w+#.-]+)", re.I)


def normalize(name: str | None) -> str | None:
    if not name:
        return None
    n = name.strip().lower().rstrip(";")
    n = ALIASES.get(n, n)
    return n if n in KNOWN else None


def from_attributes(classes: list[str], data_lang: str | None = None) -> str | None:
    """Language named by ``data-lang`` or by one of ``classes`` (block first, then its wrappers)."""
    lang = normalize(data_lang)
    if lang:
        return lang
    joined = " ".join(classes)
    m = BRUSH.search(joined)
    if m and normalize(m.group("lang")):
        return normalize(m.group("lang"))
    for cls in joined.split():
        low = cls.lower()
        if low in NOT_LANGUAGES:
            continue
        for pat in CLASS_PATTERNS:
            m = pat.match(low)
            if m and normalize(m.group("lang")):
                return normalize(m.group("lang"))
        if normalize(low) and low not in ("c", "r"):  # bare "c"/"r" classes are too often something else
            return normalize(low)
    return None


# (language, pattern, weight). A guess needs a total weight of at least 2 and a clear winner.
SIGNATURES: tuple[tuple[str, re.Pattern, int], ...] = tuple(
    (lang, re.compile(p, re.M), w) for lang, p, w in (
        ("python", r"^\s*(def|class) \w+.*:\s*$", 2), ("python", r"^\s*(from [\w.]+ )?import [\w., ]+$", 1),
        ("python", r"^>>> ", 2), ("python", r"^\s*(elif|except|with) .*:\s*$", 2), ("python", r"\bself\.\w+", 1),
        ("python", r"^#!.*python", 3), ("python", r"print\(", 1),
        ("shell", r"^\$ \w+", 2), ("shell", r"^#!/bin/(ba|z)?sh", 3),
        ("shell", r"^\s*(sudo|apt-get|pip|npm|cd|export) ", 1),
        ("javascript", r"\b(const|let) \w+ = ", 1), ("javascript", r"\bfunction\s*\w*\(", 1),
        ("javascript", r"console\.log\(", 2), ("javascript", r"=>\s*[{(]", 1),
        ("javascript", r"\brequire\(['\"]", 2),
        ("java", r"\bpublic (static )?(class|void|final) ", 2), ("java", r"System\.out\.print", 3),
        ("java", r"^import java\.", 3),
        ("c", r"^#include\s*<\w+\.h>", 2), ("c", r"\bprintf\(", 1), ("c", r"\bint main\(", 1),
        ("cpp", r"^#include\s*<(iostream|vector|string|memory)>", 3), ("cpp", r"std::", 2),
        ("go", r"^package \w+$", 2), ("go", r"\bfunc (\(\w+ \*?\w+\) )?\w+\(", 2), ("go", r":= ", 1),
        ("rust", r"\bfn \w+\(", 2), ("rust", r"\blet mut ", 2), ("rust", r"println!\(", 3),
        ("php", r"<\?php", 4), ("ruby", r"^\s*def \w+[^:]*$", 1), ("ruby", r"\bputs ", 1), ("ruby", r"^\s*end$", 1),
        ("sql", r"(?i)^\s*(select .+ from|insert into|create table|update \w+ set)\b", 3),
        ("html", r"^\s*<(!DOCTYPE html|html|div|span|body|head)\b", 3),
        ("css", r"^[.#]?[\w-]+\s*\{\s*$", 1), ("css", r"^\s*[\w-]+:\s*[^;]+;\s*$", 1),
        ("json", r"^\s*\{\s*\"[\w-]+\"\s*:", 2), ("yaml", r"^\w[\w-]*:\s*$", 1), ("yaml", r"^\s*- \w+: ", 1),
        ("docker", r"^(FROM|RUN|COPY|ENTRYPOINT|WORKDIR) ", 2),
    )
)


def from_content(code: str) -> str | None:
    """A language from content signatures, or None when the evidence is weak or split."""
    sample = code[:4000]
    scores: dict[str, int] = {}
    for lang, pat, weight in SIGNATURES:
        if pat.search(sample):
            scores[lang] = scores.get(lang, 0) + weight
    if not scores:
        return None
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    best, score = ranked[0]
    if score < 2 or (len(ranked) > 1 and ranked[1][1] == score):
        return None
    return best


def guess(code: str, classes: list[str], data_lang: str | None = None) -> tuple[str | None, str]:
    """``(language, source)`` with source ``class``, ``content`` or ``none``."""
    lang = from_attributes(classes, data_lang)
    if lang:
        return lang, "class"
    lang = from_content(code)
    return (lang, "content") if lang else (None, "none")
