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

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache

import numpy as np

from codeflow.fim.context import BM25Index, RepoFile
from codeflow.fim.imports import ImportGraph, imported_names
from codeflow.fim.units import ELISION, PREAMBLE, Unit, file_units, outline_units

_IDENT = re.compile(r"[A-Za-z_$][\w$]*")
_CODE_LINE = re.compile(r"^[ \t]*(?!" + PREAMBLE.pattern.replace("\n", "") + r")\S", re.M)
_NON_SPACE = re.compile(r"\S+")
_TOKEN = re.compile(r"[a-z_][a-z0-9_]+")  # on lowercased text: ``identifier_tokens`` in one C call
NEAR_CHARS = 3000  # referenced names are looked for this far before and after the hole
SKELETON_SHARE = 0.25  # import skeletons come before referenced names up to this share of the budget
BM25_TOP = 96  # BM25 fills what is left of the budget: its best units are plenty, the tail rarely fits
MAX_MISSES = 32  # a stage stops after this many units in a row too large for what is left of the budget
MAX_DEFS_PER_NAME = 3  # a name defined in more places than this (``__init__``, ``String``) is too ambiguous


def _bucket(text: str) -> tuple[str, str, int, int, int]:
    """A key that any two texts equal up to whitespace share: their first and last whitespace-separated words
    (``\\S`` and ``str.split`` share one definition of whitespace) and how often three punctuation characters
    occur. The words alone put most units of a Java class in one bucket (``public ... }``); the counts (one C
    scan each) split those buckets, so few units are ever normalized."""
    m = _NON_SPACE.search(text)
    if m is None:
        return ("", "", 0, 0, 0)
    return (m.group(), text.rsplit(None, 1)[-1], text.count("("), text.count("."), text.count("="))


@lru_cache(maxsize=4)
def token_counter(tokenizer_url: str) -> Callable[[str], int]:
    """The token count of a text under a tokenizer (``tokenizer.json`` or its folder, as the trainer saves it with
    ``codeflow.model.tokenizer``), loaded once per process (Spark and datatrove workers load it themselves)."""
    from codeflow.model.tokenizer import load_tokenizer

    tok = load_tokenizer(tokenizer_url)

    def count(text: str) -> int:
        return len(tok.encode(text, add_special_tokens=False).ids)

    return count


class UnitIndex:
    """Units, their BM25 index and the definition index of one repository; ``context`` per target."""

    budget: int = 0  # the context budget ``for_config`` read from a FimConfig (characters or tokens)

    @classmethod
    def for_config(cls, files: Sequence[RepoFile], cfg) -> UnitIndex:
        """The index a ``FimConfig`` asks for: tokens of ``cfg.context_tokenizer`` under ``max_context_tokens``
        when a tokenizer is given, else characters under ``max_context_chars``."""
        if cfg.context_tokenizer:
            cost = token_counter(cfg.context_tokenizer)
            index = cls(files, cost=cost, file_sep_cost=cost(cfg.tokens.file_sep), mode=cfg.context)
            index.budget = cfg.max_context_tokens
        else:
            index = cls(files, file_sep_cost=len(cfg.tokens.file_sep), mode=cfg.context)
            index.budget = cfg.max_context_chars
        return index

    def __init__(self, files: Sequence[RepoFile], cost: Callable[[str], int] = len, file_sep_cost: int = 11,
                 mode: str = "units", splitter: str = "outline") -> None:
        if mode not in ("units", "units_bm25"):
            raise ValueError(f"unknown unit context mode {mode!r}")
        self.files, self.cost, self.sep_cost, self.mode = files, cost, file_sep_cost, mode
        self.units: list[Unit] = []
        self.by_file: list[list[int]] = []
        self.trees: dict[int, object] = {}
        for i, f in enumerate(files):
            start = len(self.units)
            if splitter == "ast":
                units, tree = file_units(i, f.content, f.language)
            else:
                units, tree = outline_units(i, f.content, f.language), None
            self.units.extend(units)
            if tree is not None:
                self.trees[i] = tree
            self.by_file.append(list(range(start, len(self.units))))
        self.texts = [self._full(u) for u in self.units]
        # Duplicate groups of whitespace-normalized text: a unit equal to one of the target (or to its middle)
        # is never shown. Normalizing every unit cost a tenth of this index, so units are first bucketed by a
        # key equal normalized texts share (``_bucket``) and only units that share a bucket are normalized; a
        # unit alone in its bucket is its own group.
        self._buckets: dict[tuple[str, str, int, int, int], list[int]] = {}
        for k, t in enumerate(self.texts):
            self._buckets.setdefault(_bucket(t), []).append(k)
        self._norm: dict[int, str] = {}  # unit -> normalized text, where computed
        self._groups: dict[str, int] = {}  # normalized text -> group, for units of shared buckets
        self.groups = [0] * len(self.units)
        n_groups = 0
        for ks in self._buckets.values():
            if len(ks) == 1:
                self.groups[ks[0]] = n_groups
                n_groups += 1
                continue
            for k in ks:
                norm = self._norm[k] = " ".join(self.texts[k].split())
                g = self._groups.get(norm)
                if g is None:
                    g = self._groups[norm] = n_groups
                    n_groups += 1
                self.groups[k] = g
        file_groups: dict[str, int] = {}
        self.file_group = [file_groups.setdefault(f.content, len(file_groups)) for f in files]
        self.same_file: dict[int, list[int]] = {}
        for i, g in enumerate(self.file_group):
            self.same_file.setdefault(g, []).append(i)
        self.bm25 = BM25Index(self._unit_tokens())
        self.defs: dict[str, list[int]] = {}
        for k, u in enumerate(self.units):
            for name in u.names:
                self.defs.setdefault(name, []).append(k)
        # names a referenced-definition lookup may bring: defined somewhere, in few places, 3+ characters
        self._rare_names = {n for n, ks in self.defs.items() if len(ks) <= MAX_DEFS_PER_NAME and len(n) >= 3}
        self.graph = ImportGraph([(f.path, f.content, f.language) for f in files])
        self.pos = {f.path: i for i, f in enumerate(files)}
        self.unit_file = [u.file for u in self.units]
        self.path_cost = [file_sep_cost + cost(f.path) + 2 for f in files]
        self._forms: dict[int, tuple[list, list]] = {}
        self._elision_cost = cost(ELISION) + 2

    def _group_of(self, text: str) -> int | None:
        """The group of the units whose whitespace-normalized text equals that of ``text``, if any."""
        norm = " ".join(text.split())
        for k in self._buckets.get(_bucket(text), ()):
            unit_norm = self._norm.get(k)
            if unit_norm is None:
                unit_norm = self._norm[k] = " ".join(self.texts[k].split())
            if unit_norm == norm:
                return self.groups[k]
        return None

    def _unit_tokens(self) -> list[list[str]]:
        """BM25 tokens of every unit: each file is lowercased once and a unit's tokens are found in place."""
        out: list[list[str]] = []
        for i, f in enumerate(self.files):
            low = f.content.lower() if self.by_file[i] else ""
            in_place = len(low) == len(f.content)  # lowercasing a few characters (İ) changes the length
            for k in self.by_file[i]:
                u = self.units[k]
                if u.skeleton is not None or not in_place:
                    out.append(_TOKEN.findall(self.texts[k].lower()))
                else:
                    out.append(_TOKEN.findall(low, u.start, u.end))
        return out

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
        m = _CODE_LINE.search(text)  # the declaration: past doc comments, decorators and annotations
        start = m.start() if m else 0
        end = text.find("\n", start)
        return text[start:] if end < 0 else f"{text[start:end]} {ELISION}"

    # ---- candidates ------------------------------------------------------------------------------
    def _import_defs(self, target: int, query: str) -> list[int]:
        f = self.files[target]
        out: list[int] = []
        for mod, name in imported_names(query, f.language):
            found = self.graph.resolve(mod, f.path, f.language)
            if not found:
                continue  # a module outside the repository (the standard library, a dependency)
            defs = self.defs.get(name, [])
            local = [k for k in defs if self.files[self.unit_file[k]].path in found]
            if not local and len(defs) <= MAX_DEFS_PER_NAME:
                local = defs  # a re-export (package __init__, index.ts): the index knows the real definition
            out.extend(k for k in local[:MAX_DEFS_PER_NAME] if self.unit_file[k] != target)
        return out

    def _referenced_defs(self, target: int, before: list[str], after: list[str]) -> list[int]:
        """Definitions of names the target uses and does not define, nearest to the hole first (what is used
        next to the cut is what the middle most likely uses too), then fewer definitions first.

        ``before`` / ``after``: the identifiers of the window before and after the hole. Distances count
        identifier tokens from the hole; only names defined in 1..``MAX_DEFS_PER_NAME`` places are looked at,
        found by set intersection before any per-name work."""
        # the last occurrence wins in a dict: the one nearest to the hole
        d_before = dict(zip(before, range(len(before), 0, -1), strict=False))
        d_after = dict(zip(reversed(after), range(len(after) - 1, -1, -1), strict=False))
        names = (d_before.keys() | d_after.keys()) & self._rare_names
        names -= self._own_names(target)
        far = 1 << 60
        dist = {n: min(d_before.get(n, far), d_after.get(n, far)) for n in names}
        defs = self.defs
        ordered = sorted(names, key=lambda n: (dist[n], len(defs[n]), n))
        unit_file = self.unit_file
        return [k for n in ordered for k in defs[n] if unit_file[k] != target]

    def _own_names(self, target: int) -> set[str]:
        return {n for k in self.by_file[target] for n in self.units[k].names}

    def _skeleton_units(self, target: int) -> list[int]:
        """Definition units of the files the target imports (shown as signatures), in path order."""
        imported = sorted(self.pos[p] for p in self.graph.imports(self.files[target].path))
        units = self.units
        return [k for i in imported for k in self.by_file[i] if units[k].kind == "def"]

    def _bm25(self, target: int, before: list[str], after: list[str]) -> list[int]:
        """Units by BM25 against the identifiers of the window around the hole (the 64 rarest), the best
        ``BM25_TOP`` first. The window, not the whole file: what surrounds the hole is what the middle is about,
        and the cost stays flat on large files."""
        terms = {t.lower() for t in set(before).union(after) if len(t) >= 2}
        scores = self.bm25.scores_ids(self.bm25.term_ids(terms))
        mine = self.by_file[target]
        if mine:
            scores[mine[0]:mine[-1] + 1] = 0.0
        hit = np.flatnonzero(scores > 0)
        top = BM25_TOP
        if len(hit) > top:  # the best (ties at the cut by index), without sorting every hit
            cut = np.partition(scores[hit], len(hit) - top)[len(hit) - top]
            hit = hit[scores[hit] >= cut]
        order = hit[np.lexsort((hit, -scores[hit]))]
        return order[:top].tolist()

    # ---- selection -------------------------------------------------------------------------------
    def _form(self, k: int, sig_only: bool, big: int) -> tuple[str, int]:
        """How unit ``k`` is shown and what it costs: whole, else (over ``big``) its skeleton/signature, else its
        header line. Cached: the same units come up for many targets of a repository."""
        cache = self._form_cache(big)[sig_only]
        hit = cache[k]
        if hit is None:
            text = self.signature(k) if sig_only else self.texts[k]
            c = self.cost(text)
            if c > big and not sig_only:
                text = self.signature(k)
                c = self.cost(text)
            if c > big:  # a skeleton too large as well: its header line alone
                text = text.split("\n", 1)[0].rstrip() + f" {ELISION}"
                c = self.cost(text)
            hit = cache[k] = (text, c)
        return hit

    def _form_cache(self, big: int) -> tuple[list, list]:
        """Per budget (``big`` = a quarter of it): the full and the signature-only form of each unit, or None."""
        hit = self._forms.get(big)
        if hit is None:
            n = len(self.units)
            hit = self._forms[big] = ([None] * n, [None] * n)
        return hit

    def context(self, target: int, prefix: str, suffix: str, middle: str, max_cost: int,
                max_files: int) -> list[tuple[str, str]]:
        """``[(path, content), ...]`` in render order (most relevant last) for ``files[target]``.

        ``middle`` is used only to exclude copies of it, never to rank.
        """
        if max_cost <= 0 or max_files <= 0:
            return []
        query = prefix + suffix
        banned_files = set(self.same_file[self.file_group[target]])
        banned = {self.groups[k] for k in self.by_file[target]}
        mid = middle.strip()
        if mid:
            g = self._group_of(mid)
            if g is not None:
                banned.add(g)
        check_mid = len(mid) >= 32
        before = _IDENT.findall(prefix, max(0, len(prefix) - NEAR_CHARS))  # the identifiers around the hole
        after = _IDENT.findall(suffix, 0, NEAR_CHARS)
        # (unit ids, lazily; signatures only; the share of the budget the stage may fill up to)
        stages: list[tuple[Callable[[], Iterable[int]], bool, float]] = []
        if self.mode == "units":
            skeletons: list[Iterator[int]] = []  # one iterator for both skeleton stages: the second resumes

            def skeleton_iter() -> Iterator[int]:
                if not skeletons:
                    skeletons.append(iter(self._skeleton_units(target)))
                return skeletons[0]

            stages.append((lambda: self._import_defs(target, query), False, 1.0))
            stages.append((skeleton_iter, True, SKELETON_SHARE))  # the imported API, before it is crowded out
            stages.append((lambda: self._referenced_defs(target, before, after), False, 1.0))
            stages.append((skeleton_iter, True, 1.0))
        stages.append((lambda: self._bm25(target, before, after), False, 1.0))

        chosen: dict[int, str] = {}  # unit -> its shown text, in the order taken
        files_used: dict[int, int] = {}
        used = 0
        big = max_cost // 4
        rank = 0
        unit_file, groups, elision = self.unit_file, self.groups, self._elision_cost
        form_cache = self._form_cache(big)
        for ids_of, sig_only, share in stages:
            if max_cost - used < 16:
                break
            forms = form_cache[sig_only]
            limit = max_cost * share
            if used >= limit:
                continue
            misses = 0
            for k in ids_of():
                file = unit_file[k]
                if k in chosen or file in banned_files or groups[k] in banned:
                    continue
                text, c = forms[k] or self._form(k, sig_only, big)
                piece = c + elision  # an elision line may follow it
                if used + piece > max_cost:
                    misses += 1
                    if misses >= MAX_MISSES:
                        break  # a nearly full budget: lower-ranked units of this stage rarely fit either
                    continue
                if file in files_used:
                    extra = 0
                elif len(files_used) >= max_files:
                    continue
                else:
                    extra = self.path_cost[file]
                if used + extra + piece > max_cost or (check_mid and mid in text):
                    continue
                used += extra + piece
                files_used.setdefault(file, rank)
                chosen[k] = text
                rank += 1
                if used >= limit or max_cost - used < 16:
                    break  # checked after taking a unit: a resumed iterator loses nothing
        return self._render(chosen, files_used)

    def _render(self, chosen: dict[int, str], files_used: dict[int, int]) -> list[tuple[str, str]]:
        out = []
        per_file: dict[int, list[int]] = {}
        unit_file = self.unit_file
        for k in chosen:
            per_file.setdefault(unit_file[k], []).append(k)
        units = self.units
        for i in sorted(files_used, key=lambda i: (-files_used[i], i)):  # least relevant first
            content = self.files[i].content
            parts: list[str] = []
            prev_end: int | None = None
            for n, k in enumerate(sorted(per_file[i])):  # unit ids of a file follow file order
                u = units[k]
                if n:
                    contiguous = u.skeleton is None and prev_end is not None and 0 <= u.start - prev_end <= 3 \
                        and not content[prev_end:u.start].strip()
                    parts.append(content[prev_end:u.start] if contiguous else f"\n{ELISION}\n")
                parts.append(chosen[k])
                prev_end = u.end if u.skeleton is None else None
            out.append((self.files[i].path, "".join(parts)))
        return out
