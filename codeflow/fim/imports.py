"""Import edges between files of one repository, by per-language regexes (no parse needed).

Why regexes: the import graph is only a relevance boost for context selection, it must be cheap on repos
with thousands of files, and it must work for languages without a grammar. An import string is reduced to a
slash path (``a.b.c`` -> ``a/b/c``, ``./util`` -> ``util`` relative to the importer) and matched against the
repo's files by path suffix without extension, or, for Go-style package imports, by directory suffix.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict

_PATTERNS: dict[str, list[re.Pattern[str]]] = {
    "python": [re.compile(r"^\s*from\s+(\.*[\w.]*)\s+import\b", re.M),
               re.compile(r"^\s*import\s+([\w.]+(?:\s*,\s*[\w.]+)*)", re.M)],
    "javascript": [re.compile(r"""\bfrom\s+['"]([^'"]+)['"]"""), re.compile(r"""\bimport\s+['"]([^'"]+)['"]"""),
                   re.compile(r"""\brequire\(\s*['"]([^'"]+)['"]\s*\)"""),
                   re.compile(r"""\bimport\(\s*['"]([^'"]+)['"]\s*\)""")],
    "java": [re.compile(r"^\s*import\s+(?:static\s+)?([\w.]+)\s*;", re.M)],
    "kotlin": [re.compile(r"^\s*import\s+([\w.]+)", re.M)],
    "scala": [re.compile(r"^\s*import\s+([\w.]+)", re.M)],
    "go": [re.compile(r"""^\s*import\s+(?:\w+\s+)?"([^"]+)\"""", re.M),
           re.compile(r"""^\s+(?:[\w.]+\s+)?"([^"]+)"\s*$""", re.M)],
    "rust": [re.compile(r"^\s*(?:pub\s+)?use\s+([\w:]+)", re.M), re.compile(r"^\s*(?:pub\s+)?mod\s+(\w+)\s*;", re.M)],
    "c": [re.compile(r"""^\s*#\s*include\s+"([^"]+)\"""", re.M)],
    "csharp": [re.compile(r"^\s*using\s+(?:static\s+)?([\w.]+)\s*;", re.M)],
    "php": [re.compile(r"""\b(?:require|include)(?:_once)?\s*\(?\s*['"]([^'"]+)['"]"""),
            re.compile(r"^\s*use\s+([\w\\]+)", re.M)],
    "ruby": [re.compile(r"""^\s*require(?:_relative)?\s+['"]([^'"]+)['"]""", re.M)],
}
_ALIASES = {"typescript": "javascript", "tsx": "javascript", "jsx": "javascript", "cpp": "c", "c++": "c",
            "objective-c": "c", "cuda": "c"}


def import_strings(content: str, language: str | None) -> list[str]:
    """Raw import targets named in a file (empty for languages without patterns)."""
    lang = (language or "").lower()
    pats = _PATTERNS.get(_ALIASES.get(lang, lang), [])
    found: list[str] = []
    for pat in pats:
        for m in pat.finditer(content):
            found.extend(s.strip() for s in m.group(1).split(",") if s.strip())
    return found


def _strip_ext(path: str) -> str:
    root, _ = posixpath.splitext(path)
    return root


def _normalize(imp: str, importer: str, language: str | None) -> str:
    """An import string as a slash path relative to the repo root where it can be resolved."""
    lang = _ALIASES.get((language or "").lower(), (language or "").lower())
    here = posixpath.dirname(importer)
    if lang == "python" and imp.startswith("."):
        dots = len(imp) - len(imp.lstrip("."))
        base = here
        for _ in range(dots - 1):
            base = posixpath.dirname(base)
        rest = imp[dots:].replace(".", "/")
        return posixpath.normpath(posixpath.join(base, rest)) if rest else base
    if imp.startswith(("./", "../")) or (lang in ("c", "ruby", "php") and "/" in imp and not imp.startswith("/")):
        joined = posixpath.normpath(posixpath.join(here, imp))
        return _strip_ext(joined) if lang != "c" else joined
    if lang == "rust":
        parts = [p for p in imp.split("::") if p not in ("crate", "self", "super", "")]
        return "/".join(parts)
    if lang in ("python", "java", "kotlin", "scala", "csharp"):
        return imp.replace(".", "/")
    if lang == "php":
        return imp.replace("\\", "/")
    return imp


class ImportGraph:
    """Directed edges ``importer -> imported`` among the given repo paths."""

    def __init__(self, files: list[tuple[str, str, str | None]]) -> None:
        """``files``: ``[(path, content, language), ...]`` of one repository."""
        by_suffix: dict[str, set[str]] = defaultdict(set)
        by_dir: dict[str, set[str]] = defaultdict(set)
        for path, _, _ in files:
            for key in (path, _strip_ext(path)):
                parts = key.split("/")
                for i in range(len(parts)):
                    by_suffix["/".join(parts[i:])].add(path)
            dparts = posixpath.dirname(path).split("/")
            for i in range(len(dparts)):
                if dparts[i:] != [""]:
                    by_dir["/".join(dparts[i:])].add(path)
        # Go: an import path is a module path + directory; the root package of a module has no directory to
        # match, so an unresolved path falls back to the files whose ``package`` clause names its last segment.
        self._go_pkg: dict[str, set[str]] = defaultdict(set)
        for path, content, language in files:
            if (language or "").lower() == "go":
                m = _GO_PACKAGE.search(content)
                if m and not m.group(1).endswith("_test"):
                    self._go_pkg[m.group(1)].add(path)
        self._by_suffix, self._by_dir = by_suffix, by_dir
        self._memo: dict[tuple[str, str, str | None], frozenset[str]] = {}
        self.edges: dict[str, set[str]] = defaultdict(set)
        for path, content, language in files:
            for imp in import_strings(content, language):
                self.edges[path].update(h for h in self.resolve(imp, path, language) if h != path)

    def resolve(self, imp: str, importer: str, language: str | None) -> frozenset[str]:
        """Repo files an import string names, seen from ``importer`` (empty when it is outside the repo).

        Memoized per (import, importer's folder, language): that is all a resolution depends on, and the files
        of a repository import the same modules over and over."""
        key = (imp, posixpath.dirname(importer), language)
        hits = self._memo.get(key)
        if hits is None:
            found = self._resolve(_normalize(imp, importer, language), self._by_suffix, self._by_dir)
            if not found and (language or "").lower() == "go" and "/" in imp:
                found = set(self._go_pkg.get(imp.rstrip("/").rsplit("/", 1)[-1], ()))
            hits = self._memo[key] = frozenset(found)
        return hits

    @staticmethod
    def _resolve(norm: str, by_suffix: dict[str, set[str]], by_dir: dict[str, set[str]]) -> set[str]:
        parts = [p for p in norm.split("/") if p not in ("", ".")]
        # Longest suffix first; drop trailing segments for ``from pkg.mod import Name`` / ``a.b.Class.member``.
        for end in range(len(parts), 0, -1):
            key = "/".join(parts[:end])
            hit = by_suffix.get(key) or by_suffix.get(key + "/__init__") or by_dir.get(key)
            if hit:
                return set(hit)
            if end < len(parts) - 1:
                break
        return set()

    def imports(self, path: str) -> set[str]:
        return self.edges.get(path, set())


_PY_FROM = re.compile(r"^[ \t]*from\s+(\.*[\w.]*)\s+import\s+(\([^)]*\)|[^\n]*)", re.M)
_JAVA_IMPORT = re.compile(r"^\s*import\s+(?:static\s+)?([\w.]+?)\.(\w+)\s*;?\s*$", re.M)
_JS_IMPORT = re.compile(r"""\b(?:import|export)\s+(?:type\s+)?([\w$\s{},*]*?)\s*from\s+['"]([^'"]+)['"]""")
_RUST_USE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([\w:]+?)(?:::\{([^}]*)\}|::(\w+))?(?:\s+as\s+\w+)?\s*;",
                       re.M)
_GO_PACKAGE = re.compile(r"^package\s+(\w+)", re.M)
_GO_SELECTOR = re.compile(r"\b(\w+)\.([A-Z]\w*)")
_GO_IMPORT = re.compile(r"""^\s*(?:import\s+)?(?:(\w+)\s+)?"([^"]+)"\s*$""", re.M)


def _names(spec: str) -> list[str]:
    """``A, B as C, (D,\n E)`` -> ``[A, B, D, E]`` (the names as defined in the imported module)."""
    out = []
    for item in spec.strip("() \t\n").replace("\n", ",").split(","):
        name = item.strip().split(" as ")[0].strip().split()[-1:] if item.strip() else []
        if name and name[0] not in ("*", "type") and re.fullmatch(r"[A-Za-z_$][\w$]*", name[0]):
            out.append(name[0])
    return out


def imported_names(content: str, language: str | None) -> list[tuple[str, str]]:
    """``(module, name)`` for every name a file imports explicitly, in file order.

    Python ``from a.b import C`` -> ``("a.b", "C")``; Java/Kotlin/Scala ``import a.b.C`` -> ``("a.b.C", "C")``
    (the class file itself); JS/TS ``import {A, B as C} from './x'`` and ``import D from './x'``; Rust
    ``use crate::a::{B, C}``; Go: ``pkg.Name`` selectors of each imported package (Go imports packages, the
    names are what the file uses from them). C includes name no symbols (the header's skeleton stands in).
    """
    lang = _ALIASES.get((language or "").lower(), (language or "").lower())
    out: list[tuple[str, str]] = []
    if lang == "python":
        for m in _PY_FROM.finditer(content):
            spec = m.group(2).split("#")[0] if not m.group(2).startswith("(") else m.group(2)
            out.extend((m.group(1), n) for n in _names(spec))
    elif lang in ("java", "kotlin", "scala"):
        for m in _JAVA_IMPORT.finditer(content):
            mod, name = m.group(1), m.group(2)
            if name[:1].isupper():
                out.append((f"{mod}.{name}", name))
            else:  # static member import: a.b.Class.member -> the class file, the member name
                out.append((mod, name))
                out.append((mod, mod.rsplit(".", 1)[-1]))
    elif lang == "javascript":
        for m in _JS_IMPORT.finditer(content):
            spec, mod = m.group(1), m.group(2)
            if "* as" in spec:
                continue
            out.extend((mod, n) for n in _names(spec.replace("{", ",").replace("}", ",")))
    elif lang == "rust":
        for m in _RUST_USE.finditer(content):
            path = m.group(1)
            if m.group(2) is not None:
                out.extend((path, n) for n in _names(m.group(2)) if n != "self")
            elif m.group(3):
                out.append((path, m.group(3)))
            elif "::" in path:
                mod, _, name = path.rpartition("::")
                out.append((mod, name))
    elif lang == "go":
        block = re.search(r"^import\s*\(([^)]*)\)", content, re.M)
        specs = [(m.group(1), m.group(2)) for m in _GO_IMPORT.finditer(block.group(1) if block else "")]
        specs += [(m.group(1), m.group(2)) for m in re.finditer(r'^import\s+(?:(\w+)\s+)?"([^"]+)"', content, re.M)]
        pkgs = {alias or path.rstrip("/").rsplit("/", 1)[-1]: path for alias, path in specs}
        seen: set[tuple[str, str]] = set()
        for m in _GO_SELECTOR.finditer(content):  # one pass over the file for every imported package
            path = pkgs.get(m.group(1))
            if path is not None and (path, m.group(2)) not in seen:
                seen.add((path, m.group(2)))
                out.append((path, m.group(2)))
    return out
