"""Repo-level FIM context built from units (definitions, members, skeletons), not whole files.

For one target the context is filled, under one budget, in this priority order:

1. **definitions of explicitly imported names** (``from a.b import C``, Java/Kotlin ``import a.b.C``, TS/JS
   ``import {C} from './b'``, Rust ``use crate::b::C``, Go ``pkg.C``), resolved through the import graph to the
   unit that defines ``C`` in the imported file; where that file only re-exports ``C`` (a package
   ``__init__``), the repository's definition index finds where it is defined;
2. **definitions of other names the target references and does not define** (Go's same-package names, C
   functions declared in an included header, ...), rarest first, skipping names defined in many places;
3. **skeletons of directly imported files** (headers and signatures, bodies elided with ``ELISION``);
4. **BM25** (identifier tokens, k1 1.5, b 0.75) between the target's prefix+suffix and every unit.

A definition larger than a quarter of the budget goes in as its skeleton/signature instead. Retrieval sees
only the prefix and suffix. Never shown: the target file, any file with the same content, any unit whose text
(whitespace-normalized) equals a unit of the target or the middle, or that contains the middle.

Layout: the units of one file go under one ``<|file_sep|>path`` in file order, with an ``ELISION`` line
between non-adjacent ones; files are ordered least relevant first, so the most relevant sits right before
the target. The budget is counted with ``cost`` (``len`` = characters; pass a tokenizer's counter to budget
tokens) and is an upper bound on the rendered ``sep + path + "\\n" + content + "\\n"`` of every file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from codeflow.fim.context import BM25Index, RepoFile
from codeflow.fim.imports import ImportGraph, imported_names
from codeflow.fim.units import ELISION, Unit, file_units

_WS = re.compile(r"\s+")
_IDENT = re.compile(r"[A-Za-z_$][\w$]*")
_TOKEN = re.compile(r"[a-z_][a-z0-9_]+")  # on lowercased text: ``identifier_tokens`` in one C call
NEAR_CHARS = 6000  # referenced names are looked for this far before and after the hole
MAX_DEFS_PER_NAME = 3  # a name defined in more places than this (``__init__``, ``String``) is too ambiguous


def _norm_hash(text: str) -> bytes:
    return hashlib.blake2b(_WS.sub(" ", text).strip().encode(), digest_size=12).digest()


@dataclass
class _Piece:
    unit: int
    text: str
    rank: int


class UnitIndex:
    """Units, their BM25 index and the definition index of one repository; ``context`` per target."""

    def __init__(self, files: Sequence[RepoFile], cost: Callable[[str], int] = len, file_sep_cost: int = 11,
                 mode: str = "units") -> None:
        if mode not in ("units", "units_bm25"):
            raise ValueError(f"unknown unit context mode {mode!r}")
        self.files, self.cost, self.sep_cost, self.mode = files, cost, file_sep_cost, mode
        self.units: list[Unit] = []
        self.by_file: list[list[int]] = []
        self.trees: dict[int, object] = {}
        for i, f in enumerate(files):
            start = len(self.units)
            units, tree = file_units(i, f.content, f.language)
            self.units.extend(units)
            if tree is not None:
                self.trees[i] = tree
            self.by_file.append(list(range(start, len(self.units))))
        self.texts = [self._full(u) for u in self.units]
        self.hashes = [_norm_hash(t) for t in self.texts]
        self.file_hash = [hashlib.blake2b(f.content.encode(), digest_size=12).digest() for f in files]
        self.bm25 = BM25Index([_TOKEN.findall(t.lower()) for t in self.texts])
        self.defs: dict[str, list[int]] = {}
        for k, u in enumerate(self.units):
            for name in u.names:
                self.defs.setdefault(name, []).append(k)
        self.graph = ImportGraph([(f.path, f.content, f.language) for f in files])
        self.pos = {f.path: i for i, f in enumerate(files)}
        self._forms: dict[tuple[int, bool, int], tuple[str, int]] = {}
        self._elision_cost = cost(ELISION) + 2

    def take_tree(self, i: int):
        """The parse of file ``i`` (once: it is dropped here, so trees do not outlive their target's sample)."""
        return self.trees.pop(i, None)

    def _full(self, u: Unit) -> str:
        return u.skeleton if u.skeleton is not None else self.files[u.file].content[u.start:u.end]

    def signature(self, k: int) -> str:
        """A unit reduced to its first line (bodies elided): what a skeleton shows of a plain definition."""
        u = self.units[k]
        if u.skeleton is not None:
            return u.skeleton
        text = self.texts[k]
        first, nl, _ = text.partition("\n")
        return f"{first} {ELISION}" if nl else first

    # ---- candidates ------------------------------------------------------------------------------
    def _import_defs(self, target: int, query: str) -> list[int]:
        f = self.files[target]
        out: list[int] = []
        for mod, name in imported_names(query, f.language):
            found = self.graph.resolve(mod, f.path, f.language)
            defs = self.defs.get(name, [])
            local = [k for k in defs if self.files[self.units[k].file].path in found]
            if not local and len(defs) <= MAX_DEFS_PER_NAME:
                local = defs  # a re-export (package __init__, index.ts): the index knows the real definition
            out.extend(k for k in local[:MAX_DEFS_PER_NAME] if self.units[k].file != target)
        return out

    def _referenced_defs(self, target: int, prefix: str, suffix: str) -> list[int]:
        """Definitions of names the target uses and does not define, nearest to the hole first (what is used
        next to the cut is what the middle most likely uses too), then fewer definitions first."""
        own = {n for k in self.by_file[target] for n in self.units[k].names}
        dist: dict[str, int] = {}
        near = prefix[-NEAR_CHARS:]  # names far from the hole rarely make the budget: scan a window around it
        for m in _IDENT.finditer(near):
            dist[m.group()] = len(near) - m.end()  # later occurrences overwrite: distance of the last one
        for m in _IDENT.finditer(suffix, 0, NEAR_CHARS):
            d = m.start()
            if d < dist.get(m.group(), 1 << 60):
                dist[m.group()] = d
        names = [n for n in dist
                 if len(n) >= 3 and n not in own and 0 < len(self.defs.get(n, ())) <= MAX_DEFS_PER_NAME]
        names.sort(key=lambda n: (dist[n], len(self.defs[n]), n))
        return [k for n in names for k in self.defs[n] if self.units[k].file != target]

    def _bm25(self, target: int, query_tokens: Sequence[str]) -> list[int]:
        terms = self.bm25.query_terms({t.lower() for t in set(query_tokens) if len(t) >= 2})
        scores = self.bm25.scores(terms)
        mine = self.by_file[target]
        if mine:
            scores[mine[0]:mine[-1] + 1] = 0.0
        hit = np.flatnonzero(scores > 0)
        order = hit[np.lexsort((hit, -scores[hit]))]
        return [int(k) for k in order[:256]]

    # ---- selection -------------------------------------------------------------------------------
    def _form(self, k: int, sig_only: bool, big: int) -> tuple[str, int]:
        """How unit ``k`` is shown and what it costs: whole, else (over ``big``) its skeleton/signature, else its
        header line. Cached: the same units come up for many targets of a repository."""
        key = (k, sig_only, big)
        hit = self._forms.get(key)
        if hit is None:
            text = self.signature(k) if sig_only else self.texts[k]
            c = self.cost(text)
            if c > big and not sig_only:
                text = self.signature(k)
                c = self.cost(text)
            if c > big:  # a skeleton too large as well: its header line alone
                text = text.split("\n", 1)[0].rstrip() + f" {ELISION}"
                c = self.cost(text)
            hit = self._forms[key] = (text, c)
        return hit

    def context(self, target: int, prefix: str, suffix: str, middle: str, max_cost: int,
                max_files: int) -> list[tuple[str, str]]:
        """``[(path, content), ...]`` in render order (most relevant last) for ``files[target]``.

        ``middle`` is used only to exclude copies of it, never to rank.
        """
        if max_cost <= 0 or max_files <= 0:
            return []
        query = prefix + suffix
        tf = self.files[target]
        banned_files = {i for i, h in enumerate(self.file_hash) if h == self.file_hash[target]}
        banned = {self.hashes[k] for k in self.by_file[target]}
        mid = middle.strip()
        if mid:
            banned.add(_norm_hash(mid))
        stages: list[tuple[list[int], bool]] = []  # (unit ids, signatures only)
        tokens = _IDENT.findall(query)
        if self.mode == "units":
            stages.append((self._import_defs(target, query), False))
            stages.append((self._referenced_defs(target, prefix, suffix), False))
            imported = sorted(self.pos[p] for p in self.graph.imports(tf.path))
            stages.append(([k for i in imported for k in self.by_file[i] if self.units[k].kind == "def"], True))
        stages.append((self._bm25(target, tokens), False))

        chosen: dict[int, _Piece] = {}
        files_used: dict[int, int] = {}
        used = 0
        big = max_cost // 4
        rank = 0
        for ids, sig_only in stages:
            for k in ids:
                u = self.units[k]
                if max_cost - used < 16:
                    break
                if k in chosen or u.file in banned_files or self.hashes[k] in banned:
                    continue
                text, c = self._form(k, sig_only, big)
                if used + c > max_cost or (len(mid) >= 32 and mid in text):
                    continue
                extra = 0 if u.file in files_used else self.sep_cost + self.cost(self.files[u.file].path) + 2
                if u.file not in files_used and len(files_used) >= max_files:
                    continue
                piece = c + self._elision_cost  # an elision line may follow it
                if used + extra + piece > max_cost:
                    continue
                used += extra + piece
                files_used.setdefault(u.file, rank)
                chosen[k] = _Piece(k, text, rank)
                rank += 1
            if max_cost - used < 16:
                break
        return self._render(chosen, files_used)

    def _render(self, chosen: dict[int, _Piece], files_used: dict[int, int]) -> list[tuple[str, str]]:
        out = []
        per_file: dict[int, list[_Piece]] = {}
        for p in chosen.values():
            per_file.setdefault(self.units[p.unit].file, []).append(p)
        for i in sorted(files_used, key=lambda i: (-files_used[i], i)):  # least relevant first
            pieces = sorted(per_file[i], key=lambda p: (self.units[p.unit].start, self.units[p.unit].end))
            parts: list[str] = []
            prev_end: int | None = None
            for n, p in enumerate(pieces):
                u = self.units[p.unit]
                if n:
                    gap = self.files[i].content[prev_end:u.start] if prev_end is not None else "x"
                    contiguous = u.skeleton is None and prev_end is not None and u.start >= prev_end and \
                        len(gap) <= 3 and not gap.strip()
                    parts.append(gap if contiguous else f"\n{ELISION}\n")
                parts.append(p.text)
                prev_end = u.end if u.skeleton is None else None
            out.append((self.files[i].path, "".join(parts)))
        return out
