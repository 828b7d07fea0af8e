"""Related unchanged files stored beside a triplet: what the touched files import, then their neighbours.

A model that edits ``app.py`` needs the ``helpers.py`` it calls, not the whole repository. Imports are found
with per-language regexes (Python ``import`` / ``from``, JS/TS relative ``import``/``require``, C/C++
``#include "..."``), resolved against the start tree; when that finds too little, files of the same language in
the touched files' directories fill up, by name. Bounded in count and bytes; only files identical at start
and end qualify (changed files are already in the triplet).
"""

from __future__ import annotations

import posixpath
import re

import pygit2

from codeflow.commits import paths as pathmod
from codeflow.repos import MODE_BLOB, MODE_EXEC

PY_IMPORT = re.compile(r"^\s*(?:from\s+(\.*[\w.]*)\s+import\s+([\w, ()*]+)|import\s+([\w.]+))", re.M)
JS_IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"](\.{1,2}/[^'"]+)['"]""")
C_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
JS_EXTS = ("", ".ts", ".tsx", ".js", ".jsx", ".mjs", "/index.ts", "/index.js")


def _python_candidates(path: str, text: str) -> list[str]:
    here = posixpath.dirname(path)
    roots = ["", "src"] + [p for p in [path.split("/", 1)[0]] if "/" in path]
    out: list[str] = []
    for m in PY_IMPORT.finditer(text):
        module, names, plain = m.group(1), m.group(2), m.group(3)
        mod = module if module is not None else plain
        if mod is None:
            continue
        dots = len(mod) - len(mod.lstrip("."))
        rest = mod.lstrip(".").replace(".", "/")
        if dots:
            base = here
            for _ in range(dots - 1):
                base = posixpath.dirname(base)
            bases = [posixpath.join(base, rest) if rest else base]
        else:
            bases = [posixpath.join(r, rest) if r else rest for r in roots]
        subs = [n.strip(" ()") for n in (names or "").split(",") if n.strip(" ()*")]
        for b in bases:
            out += [b + ".py", b + "/__init__.py"] + [f"{b}/{s}.py" for s in subs]
    return out


def _js_candidates(path: str, text: str) -> list[str]:
    here = posixpath.dirname(path)
    out: list[str] = []
    for m in JS_IMPORT.finditer(text):
        target = posixpath.normpath(posixpath.join(here, m.group(1)))
        out += [target + ext for ext in JS_EXTS]
    return out


def _c_candidates(path: str, text: str) -> list[str]:
    here = posixpath.dirname(path)
    return [posixpath.normpath(posixpath.join(here, m.group(1))) for m in C_INCLUDE.finditer(text)] + \
        [m.group(1) for m in C_INCLUDE.finditer(text)]


CANDIDATES = {"python": _python_candidates, "javascript": _js_candidates, "typescript": _js_candidates,
              "tsx": _js_candidates, "c": _c_candidates, "cpp": _c_candidates, "cuda": _c_candidates}


def _entry(tree: pygit2.Tree, path: str) -> pygit2.Object | None:
    if not path or path.startswith(("../", "/")):
        return None
    try:
        obj = tree[path]
    except (KeyError, ValueError):
        return None
    return obj if obj.type_str == "blob" and obj.filemode in (MODE_BLOB, MODE_EXEC) else None


def select_context(repo: pygit2.Repository, start_tree: pygit2.Tree, end_tree: pygit2.Tree,
                   touched: dict[str, str], max_files: int, max_bytes: int, max_file_bytes: int) -> list[dict]:
    """``[{path, content}]`` of related unchanged files for ``touched`` (path -> old or new content)."""
    ordered: list[str] = []
    for path in sorted(touched):
        fn = CANDIDATES.get(pathmod.language(path) or "")
        if fn:
            ordered += fn(path, touched[path])
    for path in sorted(touched):  # fallback: same-language neighbours
        lang = pathmod.language(path)
        folder = posixpath.dirname(path)
        try:
            sub = start_tree[folder] if folder else start_tree
        except KeyError:
            continue
        if sub.type_str != "tree":
            continue
        ordered += sorted(posixpath.join(folder, e.name) for e in sub
                          if e.type_str == "blob" and pathmod.language(e.name) == lang and lang)
    chosen: list[dict] = []
    seen: set[str] = set(touched)
    used = 0
    for cand in ordered:
        if len(chosen) >= max_files:
            break
        if cand in seen:
            continue
        seen.add(cand)
        if pathmod.classify(cand) in pathmod.NOISE:
            continue
        old = _entry(start_tree, cand)
        new = _entry(end_tree, cand)
        if old is None or new is None or old.id != new.id or old.size > max_file_bytes:
            continue
        data = old.data
        if old.is_binary or pathmod.is_lfs_pointer(data) or used + len(data) > max_bytes:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        used += len(data)
        chosen.append({"path": cand, "content": text})
    return chosen
