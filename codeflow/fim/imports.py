"""Import resolution for one repository snapshot: which files an import names, per language, by regexes.

One module for both consumers: repo-level FIM context (``ImportGraph`` over the files of a shard) and commit
triplet context (``PathIndex`` over the paths of the start tree, ``codeflow.commits.context``).

Why regexes and path indices, not a build system: resolution must be cheap on repos with thousands of files and
work for snapshots that do not build. An import string is reduced to a slash path and looked up per language:

- Python ``a.b`` / ``.b`` / ``from a import b`` -> ``a/b.py`` or ``a/b/__init__.py`` by path suffix (so ``src/``
  layouts resolve), dropping a trailing name (``a.b.Class`` -> ``a/b.py``);
- JS/TS relative specifiers by path without extension (``./errors.js`` in TypeScript -> ``errors.ts``), or the
  folder's ``index``; a bare specifier (``react``) is a package and resolves to nothing;
- Java/Kotlin/Scala ``a.b.C`` -> ``a/b/C.*`` by suffix (``src/main/java/a/b/C.java``);
- Go: a package is a folder. A path under the module path of a ``go.mod`` maps to that folder; otherwise the
  longest suffix of the import path that is a folder of the repo; otherwise (no ``go.mod`` in view) the files
  whose ``package`` clause names the last segment (a module's root package). A first segment without a dot
  (``errors``, ``net/http``) is the standard library: nothing;
- Rust ``use crate::a::B`` / ``mod a;`` -> ``a.rs`` or ``a/mod.rs``;
- C/C++ ``#include "x.h"`` -> relative to the includer, else any ``x.h`` by path suffix.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

_PATTERNS: dict[str, list[re.Pattern[str]]] = {
    "python": [re.compile(r"\n[ \t]*import\s+([\w.]+(?:\s*,\s*[\w.]+)*)")],  # + ``from`` in import_strings
    "javascript": [re.compile(r"""\bfrom\s+['"]([^'"]+)['"]"""), re.compile(r"""\bimport\s+['"]([^'"]+)['"]"""),
                   re.compile(r"""\brequire\(\s*['"]([^'"]+)['"]\s*\)"""),
                   re.compile(r"""\bimport\(\s*['"]([^'"]+)['"]\s*\)""")],
    "java": [re.compile(r"\n[ \t]*import\s+(?:static\s+)?([\w.]+)\s*;")],
    "kotlin": [re.compile(r"\n[ \t]*import\s+([\w.]+)")],
    "scala": [re.compile(r"\n[ \t]*import\s+([\w.]+)")],
    "go": [],  # import blocks and lines: go_imports
    "rust": [re.compile(r"\n[ \t]*(?:pub\s+)?use\s+([\w:]+)"), re.compile(r"\n[ \t]*(?:pub\s+)?mod\s+(\w+)\s*;")],
    "c": [re.compile(r"""\n[ \t]*#\s*include\s+"([^"]+)\"""")],
    "csharp": [re.compile(r"\n[ \t]*using\s+(?:static\s+)?([\w.]+)\s*;")],
    "php": [re.compile(r"""\b(?:require|include)(?:_once)?\s*\(?\s*['"]([^'"]+)['"]"""),
            re.compile(r"\n[ \t]*use\s+([\w\\]+)")],
    "ruby": [re.compile(r"""\n[ \t]*require(?:_relative)?\s+['"]([^'"]+)['"]""")],
}
_ALIASES = {"typescript": "javascript", "tsx": "javascript", "jsx": "javascript", "cpp": "c", "c++": "c",
            "objective-c": "c", "cuda": "c"}


def import_strings(content: str, language: str | None) -> list[str]:
    """Raw import targets named in a file (empty for languages without patterns).

    Python ``from a import b, c`` gives ``a.b`` and ``a.c`` (``b`` may be a submodule; resolution falls back to
    ``a`` when it is a name); Go gives the import paths of its import block and lines."""
    lang = canonical(language)
    found: list[str] = []
    content = "\n" + content  # line-anchored patterns start with a newline (much faster to scan than ``^``)
    if lang == "python":
        for m in _PY_FROM.finditer(content):
            mod = m.group(1)
            sep = "" if mod.strip(".") == "" else "."
            names = _names(_spec(m.group(2)))
            found.extend([f"{mod}{sep}{n}" for n in names] if names else [mod])  # ``import *``: the module
    elif lang == "go":
        return [path for _, path in go_imports(content)]
    for pat in _PATTERNS.get(lang, []):
        for m in pat.finditer(content):
            found.extend(s.strip() for s in m.group(1).split(",") if s.strip())
    return found


def _spec(raw: str) -> str:
    """The names part of a Python ``from`` import, without a trailing comment."""
    return raw if raw.startswith("(") else raw.split("#")[0]


def go_imports(content: str) -> list[tuple[str | None, str]]:
    """``(alias, path)`` of a Go file's import block(s) and single import lines."""
    specs = []
    content = "\n" + content
    for block in _GO_BLOCK.finditer(content):
        specs += [(m.group(1), m.group(2)) for m in _GO_IMPORT.finditer(block.group(1))]
    specs += [(m.group(1), m.group(2)) for m in _GO_LINE.finditer(content)]
    return [((alias or "").strip() or None, path) for alias, path in specs]


def _strip_ext(path: str) -> str:
    root, _ = posixpath.splitext(path)
    return root


def _normalize(imp: str, importer: str, language: str | None) -> str:
    """An import string as a slash path relative to the repo root where it can be resolved."""
    lang = canonical(language)
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


def canonical(language: str | None) -> str:
    """The resolver's name of a language (TypeScript resolves like JavaScript, C++ like C)."""
    lang = (language or "").lower()
    return _ALIASES.get(lang, lang)


def go_module_path(go_mod: str) -> str | None:
    """The ``module`` path declared by a ``go.mod`` text."""
    m = re.search(r"^module\s+\"?([^\s\"]+)", go_mod, re.M)
    return m.group(1) if m else None


class PathIndex:
    """The paths of one repository snapshot, indexed for ``resolve``.

    ``go_modules``: ``{folder of go.mod: module path}`` (from ``go.mod`` files); ``go_packages``: ``{package name:
    files}`` from ``package`` clauses, the fallback when no ``go.mod`` is in view (FIM shards hold code only).
    """

    def __init__(self, paths: Iterable[str], go_modules: dict[str, str] | None = None,
                 go_packages: dict[str, set[str]] | None = None) -> None:
        by_suffix: dict[str, set[str]] = defaultdict(set)
        by_dir: dict[str, set[str]] = defaultdict(set)
        dir_files: dict[str, set[str]] = defaultdict(set)  # full folder -> files directly in it
        self.paths: set[str] = set()
        for path in paths:
            self.paths.add(path)
            for key in (path, _strip_ext(path)):
                parts = key.split("/")
                for i in range(len(parts)):
                    by_suffix["/".join(parts[i:])].add(path)
            folder = posixpath.dirname(path)
            dir_files[folder].add(path)
            dparts = folder.split("/")
            for i in range(len(dparts)):
                if dparts[i:] != [""]:
                    by_dir["/".join(dparts[i:])].add(path)
        self._by_suffix, self._by_dir, self._dir_files = by_suffix, by_dir, dir_files
        self._go_modules = sorted((go_modules or {}).items(), key=lambda kv: -len(kv[1]))  # longest module first
        self._go_pkg = go_packages or {}
        self._memo: dict[tuple[str, str, str], frozenset[str]] = {}  # (import, folder, language) -> files
        self._asked: dict[tuple[str, str, str | None], frozenset[str]] = {}  # (import, importer, language)

    def resolve(self, imp: str, importer: str, language: str | None) -> frozenset[str]:
        """Repo files an import string names, seen from ``importer`` (empty when it is outside the repo; never
        ``importer`` itself).

        Memoized twice: per (import, importer, language) as asked, so a repeated question (every FIM sample of a
        file asks about its imports again) is one dict lookup; and per (import, importer's folder, language),
        which is all a resolution depends on, so the files of one folder share the work."""
        key = (imp, importer, language)
        hits = self._asked.get(key)
        if hits is None:
            lang = canonical(language)
            folder_key = (imp, posixpath.dirname(importer), lang)
            found = self._memo.get(folder_key)
            if found is None:
                found = self._memo[folder_key] = frozenset(self._find(imp, importer, lang))
            hits = self._asked[key] = found - {importer} if importer in found else found
        return hits

    def _find(self, imp: str, importer: str, lang: str) -> set[str]:
        if lang == "go":
            return self._go(imp)
        if lang == "c":
            return self._c(imp, importer)
        if lang == "javascript" and not imp.startswith((".", "/")):
            return set()  # a package (``react``, ``ky``): node_modules, not this repository's files
        return self._generic(_normalize(imp, importer, lang))

    def _go(self, imp: str) -> set[str]:
        imp = imp.rstrip("/")
        for folder, module in self._go_modules:
            if imp == module or imp.startswith(module + "/"):
                rel = posixpath.join(folder, imp[len(module) + 1:]) if imp != module else folder
                return self._go_files(posixpath.normpath(rel) if rel else "")
        parts = imp.split("/")
        if "." not in parts[0]:
            return set()  # the standard library (``errors``, ``net/http``)
        for i in range(1, len(parts)):  # longest suffix that is a folder of the repo
            hit = self._go_files("/".join(parts[i:]))
            if hit:
                return hit
        return set(self._go_pkg.get(parts[-1], ()))

    def _go_files(self, folder: str) -> set[str]:
        folder = "" if folder == "." else folder
        return {p for p in self._dir_files.get(folder, ()) if p.endswith(".go") and not p.endswith("_test.go")}

    def _c(self, imp: str, importer: str) -> set[str]:
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(importer), imp))
        if joined in self.paths:
            return {joined}
        return {p for p in self._by_suffix.get(imp.lstrip("./"), ()) if p.endswith(imp.lstrip("./"))}

    def _generic(self, norm: str) -> set[str]:
        parts = [p for p in norm.split("/") if p not in ("", ".")]
        by_suffix, by_dir = self._by_suffix, self._by_dir
        # The whole path, then without its last segment (``from pkg.mod import Name``, ``a.b.Class.member``).
        for end in range(len(parts), max(0, len(parts) - 2), -1):
            key = "/".join(parts[:end])
            hit = by_suffix.get(key) or by_suffix.get(key + "/__init__") or by_suffix.get(key + "/mod") or \
                by_suffix.get(key + "/index") or by_dir.get(key)
            if hit:
                return set(hit)
        return set()


class ImportGraph:
    """Directed edges ``importer -> imported`` among the files of one repository (a FIM shard)."""

    def __init__(self, files: list[tuple[str, str, str | None]]) -> None:
        """``files``: ``[(path, content, language), ...]`` of one repository."""
        go_pkg: dict[str, set[str]] = defaultdict(set)
        go_modules: dict[str, str] = {}
        for path, content, language in files:
            if posixpath.basename(path) == "go.mod":
                module = go_module_path(content)
                if module:
                    go_modules[posixpath.dirname(path)] = module
            elif canonical(language) == "go" and not path.endswith("_test.go"):
                m = _GO_PACKAGE.search("\n" + content)
                if m:
                    go_pkg[m.group(1)].add(path)
        self.index = PathIndex((p for p, _, _ in files), go_modules, go_pkg)
        self.edges: dict[str, set[str]] = defaultdict(set)
        for path, content, language in files:
            for imp in import_strings(content, language):
                self.edges[path].update(self.resolve(imp, path, language))

    def resolve(self, imp: str, importer: str, language: str | None) -> frozenset[str]:
        """See ``PathIndex.resolve``."""
        return self.index.resolve(imp, importer, language)

    def imports(self, path: str) -> set[str]:
        return self.edges.get(path, set())


_PY_FROM = re.compile(r"\n[ \t]*from\s+(\.*[\w.]*)\s+import\s+(\([^)]*\)|[^\n]*)")
_JAVA_IMPORT = re.compile(r"\n[ \t]*import\s+(?:static\s+)?([\w.]+?)\.(\w+)[ \t\r]*;?[ \t\r]*$", re.M)
_JS_IMPORT = re.compile(r"""\b(?:import|export)\s+(?:type\s+)?([\w$\s{},*]*?)\s*from\s+['"]([^'"]+)['"]""")
_RUST_USE = re.compile(r"\n[ \t]*(?:pub(?:\([^)]*\))?\s+)?use\s+([\w:]+?)(?:::\{([^}]*)\}|::(\w+))?"
                       r"(?:\s+as\s+\w+)?\s*;")
_GO_PACKAGE = re.compile(r"\npackage\s+(\w+)")
_GO_BLOCK = re.compile(r"\nimport\s*\(([^)]*)\)")
_GO_LINE = re.compile(r'\nimport\s+([\w.]+\s+)?"([^"]+)"')
_GO_IMPORT = re.compile(r"""^\s*(?:([\w.]+)\s+)?"([^"]+)"\s*(?://[^\n]*)?$""", re.M)


_IMPORT_STATEMENT = {
    "python": re.compile(r"^[ \t]*(?:from\s+\.*[\w.]*\s+import\s+(?:\([^)]*\)|[^\n]*)|import\s+[^\n]*)", re.M),
    "javascript": re.compile(r"""\b(?:import|export)\s+(?:type\s+)?[\w$\s{},*]*?\s*from\s*['"][^'"]+['"]|"""
                             r"""\bimport\s*['"][^'"]+['"]"""),
    "java": re.compile(r"^[ \t]*import\s+[^\n]*", re.M),
    "kotlin": re.compile(r"^[ \t]*import\s+[^\n]*", re.M),
    "scala": re.compile(r"^[ \t]*import\s+[^\n]*", re.M),
    "go": re.compile(r"^import\s*\([^)]*\)|^import\s+[^\n]*", re.M),
    "rust": re.compile(r"^[ \t]*(?:pub(?:\([^)]*\))?\s+)?(?:use\s+[^;]*;|mod\s+\w+\s*;)", re.M),
    "c": re.compile(r"^[ \t]*#[ \t]*include[^\n]*", re.M),
}


def import_spans(content: str, language: str | None) -> list[tuple[int, int]]:
    """``[start, end)`` character spans of a file's import statements, in file order (Python ``import`` /
    ``from``, JS/TS ``import``/``export ... from``, Java/Kotlin/Scala, Go blocks and lines, Rust ``use`` /
    ``mod x;``, C ``#include``). What a name's mere import looks like, as opposed to a use of the name."""
    pat = _IMPORT_STATEMENT.get(canonical(language))
    return [m.span() for m in pat.finditer(content)] if pat else []


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
    lang = canonical(language)
    out: list[tuple[str, str]] = []
    content = "\n" + content  # line-anchored patterns start with a newline (much faster to scan than ``^``)
    if lang == "python":
        for m in _PY_FROM.finditer(content):
            out.extend((m.group(1), n) for n in _names(_spec(m.group(2))))
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
        # the standard library (no dot in the first segment) never resolves into the repository: skip it
        pkgs = {alias or path.rstrip("/").rsplit("/", 1)[-1]: path for alias, path in go_imports(content)
                if alias not in ("_", ".") and "." in path.split("/", 1)[0]}
        found: dict[tuple[str, str], None] = {}
        for pkg in sorted(pkgs):  # a literal prefix per package: the regex engine jumps between hits
            for m in _go_selector(pkg).finditer(content):
                if m.start() == 0 or not (content[m.start() - 1].isalnum() or content[m.start() - 1] in "_."):
                    found[(pkgs[pkg], m.group(1))] = None
        out.extend(found)
    return out


@lru_cache(maxsize=1024)
def _go_selector(package: str) -> re.Pattern[str]:
    """``pkg.Name`` selectors of one package name (exported names start upper case)."""
    return re.compile(re.escape(package) + r"\.([A-Z]\w*)")
