"""Related unchanged files stored beside a triplet: what the touched code files import, then their neighbours.

A model that edits ``app.py`` needs the ``helpers.py`` it calls, not the whole repository. Imports are found and
resolved by ``codeflow.fim.imports`` — the same module repo-level FIM context uses — against the paths of the
start tree: Python, JS/TS (``./x.js`` in TypeScript finds ``x.ts``), Java/Kotlin/Scala, Go (packages through the
``go.mod`` module path), Rust (``use crate::a``, ``mod a;``), C/C++ (``#include "x.h"``). When that finds too
little, code files of the same language in the touched files' folders fill up, by name (Java and Go use
same-package types without importing them).

Only touched *code* files pick context, and only code files are context: a touched ``package.json``, CI workflow
or README brings no neighbours and no config file takes a slot. Bounded in count and bytes; only files
identical at start and end qualify (changed files are already in the triplet).
"""

from __future__ import annotations

import posixpath

import pygit2

from codeflow.commits import paths as pathmod
from codeflow.fim.imports import PathIndex, go_module_path, import_strings
from codeflow.repos import MODE_BLOB, MODE_EXEC, TreeFile, iter_tree

_INDEX_CACHE: dict[str, PathIndex] = {}  # start tree id -> its path index (spans of one repo share trees)
_CACHE_SIZE = 8


def _entry(tree: pygit2.Tree, path: str) -> pygit2.Object | None:
    if not path or path.startswith(("../", "/")):
        return None
    try:
        obj = tree[path]
    except (KeyError, ValueError):
        return None
    return obj if obj.type_str == "blob" and obj.filemode in (MODE_BLOB, MODE_EXEC) else None


def path_index(repo: pygit2.Repository, tree: pygit2.Tree) -> PathIndex:
    """The resolver's index of every blob path of ``tree`` (with the module paths of its ``go.mod`` files)."""
    key = str(tree.id)
    hit = _INDEX_CACHE.get(key)
    if hit is None:
        paths = [f.path for f in iter_tree(repo, tree) if isinstance(f, TreeFile) and f.kind == "blob"]
        go_modules: dict[str, str] = {}
        for p in paths:
            if posixpath.basename(p) == "go.mod":
                blob = _entry(tree, p)
                module = go_module_path(blob.data.decode("utf-8", "replace")) if blob is not None else None
                if module:
                    go_modules[posixpath.dirname(p)] = module
        hit = PathIndex(paths, go_modules)
        if len(_INDEX_CACHE) >= _CACHE_SIZE:
            _INDEX_CACHE.pop(next(iter(_INDEX_CACHE)))
        _INDEX_CACHE[key] = hit
    return hit


def is_context_file(path: str) -> bool:
    """Code that may pick context or be context: a programming language, not lock / vendored / generated."""
    return pathmod.is_programming(path) and pathmod.classify(path) not in pathmod.NOISE


def imported_paths(index: PathIndex, touched: dict[str, str]) -> list[str]:
    """Files the touched code files import, in touched-path then import order (each import's hits by path)."""
    out: list[str] = []
    for path in sorted(touched):
        if not is_context_file(path):
            continue
        lang = pathmod.language(path)
        for imp in import_strings(touched[path], lang):
            out += sorted(index.resolve(imp, path, lang))
    return out


def select_context(repo: pygit2.Repository, start_tree: pygit2.Tree, end_tree: pygit2.Tree,
                   touched: dict[str, str], max_files: int, max_bytes: int, max_file_bytes: int) -> list[dict]:
    """``[{path, content}]`` of related unchanged files for ``touched`` (path -> old or new content)."""
    if max_files <= 0:
        return []
    ordered = imported_paths(path_index(repo, start_tree), touched)
    for path in sorted(touched):  # fallback: same-language neighbours of touched code files
        lang = pathmod.language(path)
        if not lang or not is_context_file(path):
            continue
        folder = posixpath.dirname(path)
        try:
            sub = start_tree[folder] if folder else start_tree
        except KeyError:
            continue
        if sub.type_str != "tree":
            continue
        ordered += sorted(posixpath.join(folder, e.name) for e in sub
                          if e.type_str == "blob" and pathmod.language(e.name) == lang)
    chosen: list[dict] = []
    seen: set[str] = set(touched)
    used = 0
    for cand in ordered:
        if len(chosen) >= max_files:
            break
        if cand in seen:
            continue
        seen.add(cand)
        if not is_context_file(cand):
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
