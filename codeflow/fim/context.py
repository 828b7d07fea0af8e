"""Choosing context files for a repo-level sample: rank same-repo files by relevance, fill a budget.

Default ranking (``bm25_imports``): BM25 (k1 = 1.5, b = 0.75, as in ExecRepoBench's ``get_relevance``) of each
candidate against the target's identifier tokens, scaled to [0, 1] by the best candidate, plus a boost when the
target imports the candidate (``import_weight``) or the candidate imports the target (half of it). It needs no
model and no tokenizer. Other rankers plug in through ``register_retriever``: ``hash_embed`` is a real
embedding retriever (feature-hashed identifier vectors, cosine) and shows the interface an embedding model
(UniXcoder, a sentence encoder) would implement.

The target itself is never a candidate, and only files of the same repository are passed in, so context can
not leak across repositories. Selection is greedy in rank order under ``max_chars`` and ``max_files``;
a file too large for the remaining budget is skipped and smaller ones further down may still fit.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, count, repeat
from typing import Protocol

import numpy as np

from codeflow.fim.imports import ImportGraph

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def identifier_tokens(text: str, min_len: int = 2) -> list[str]:
    """Identifier tokens, lowercased: the BM25 vocabulary (model-free, works for every language)."""
    return [t.lower() for t in _IDENT.findall(text) if len(t) >= min_len]


@dataclass(frozen=True)
class RepoFile:
    """One file of a repository as the context selector sees it."""

    path: str
    content: str
    language: str | None = None


class Retriever(Protocol):
    """Ranks candidate files for each target of one repository."""

    def __call__(self, files: Sequence[RepoFile]) -> Callable[[int], Iterable[tuple[int, float]]]:
        """Prepare over all files of a repo; the returned function gives, for target index ``i``, the other
        files as ``(index, score)``, best first."""


class BM25Index:
    """Okapi BM25 over identifier tokens. The (term, document) pairs are sorted by term once, each with its
    precomputed BM25 weight, so a term's postings are one slice and scoring a query is one ``bincount`` over the
    concatenated slices of its terms (cost grows with postings, not files^2)."""

    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> None:
        self.n = len(docs)
        vocab: dict[str, int] = {}
        lens = np.fromiter(map(len, docs), dtype=np.int64, count=self.n)
        term_ids = np.fromiter(map(vocab.setdefault, chain.from_iterable(docs), count()), dtype=np.int64,
                               count=int(lens.sum()))  # setdefault(t, next id): first-seen order, all in C
        # ``count()`` advances on every token, so ids are sparse (but increasing in first-seen order): renumber
        # them densely through a lookup table, without sorting every token
        names = list(vocab)
        dense = np.empty(len(term_ids), dtype=np.int64)
        dense[np.fromiter(vocab.values(), dtype=np.int64, count=len(names))] = np.arange(len(names))
        term_ids = dense[term_ids]
        doc_ids = np.repeat(np.arange(self.n, dtype=np.int64), lens)
        avgdl = float(lens.mean()) if self.n and lens.sum() else 1.0
        norm = k1 * (1 - b + b * lens / avgdl)
        n = max(1, self.n)
        keys, counts = np.unique(term_ids * n + doc_ids, return_counts=True)  # sorted by term, then doc
        terms, self._docs = keys // n, keys % n
        starts = np.searchsorted(terms, np.arange(len(names) + 1))
        df = np.diff(starts)
        idf = np.log(1 + (self.n - df + 0.5) / (df + 0.5))
        self._weights = idf[terms] * counts * (k1 + 1) / (counts + norm[self._docs])
        self._starts, self._ends = starts[:-1], starts[1:]
        self.vocab = dict(zip(names, range(len(names)), strict=True))
        self.idf = idf
        # query order: rarest first (highest idf), ties in first-seen order
        self._rank = np.empty(len(names), dtype=np.int64)
        self._rank[np.argsort(-idf, kind="stable")] = np.arange(len(names))
        self._names = names

    def term_ids(self, terms: Iterable[str], limit: int = 64) -> np.ndarray:
        """Ids of the ``limit`` rarest distinct known terms of a query, rarest first: they carry almost all of
        the BM25 score, and the cap keeps a target's cost bounded on repos with thousands of files (common
        terms have long postings). Unknown terms score nothing and are dropped."""
        uniq = set(terms)
        ids = np.fromiter(map(self.vocab.get, uniq, repeat(-1)), dtype=np.int64, count=len(uniq))
        ids = ids[ids >= 0]
        return ids[np.argsort(self._rank[ids])][:limit]

    def query_terms(self, terms: Iterable[str], limit: int = 64) -> list[str]:
        """The ``limit`` rarest distinct known terms of a query (see ``term_ids``)."""
        return [self._names[i] for i in self.term_ids(terms, limit).tolist()]

    def scores_ids(self, ids: np.ndarray) -> np.ndarray:
        """BM25 score of every document for the given term ids (a float array of length n)."""
        if not len(ids) or not self.n:
            return np.zeros(self.n)
        ids = np.sort(ids)  # a fixed order: float sums must not depend on the caller's order
        st, ln = self._starts[ids], self._ends[ids] - self._starts[ids]
        # the positions of all their postings, without a Python loop: each term's run st..st+ln
        sel = np.repeat(st - np.cumsum(ln) + ln, ln) + np.arange(int(ln.sum()))
        return np.bincount(self._docs[sel], weights=self._weights[sel], minlength=self.n)

    def scores(self, query_terms: Iterable[str]) -> np.ndarray:
        """BM25 score of every document for the query (a float array of length n)."""
        uniq = set(query_terms)
        ids = np.fromiter(map(self.vocab.get, uniq, repeat(-1)), dtype=np.int64, count=len(uniq))
        return self.scores_ids(ids[ids >= 0])


def _ordered(scores: np.ndarray, target: int) -> Iterator[tuple[int, float]]:
    """Scored files best first (ties by index), then the unscored ones in index order, lazily: the budget is
    usually full long before the end of a large repository."""
    scored = np.flatnonzero(scores > 0)
    scored = scored[scored != target]
    order = scored[np.lexsort((scored, -scores[scored]))]
    yield from ((int(i), float(scores[i])) for i in order)
    rest = np.flatnonzero(scores <= 0)
    yield from ((int(i), 0.0) for i in rest if i != target)


def bm25_imports(import_weight: float = 1.0) -> Retriever:
    def prepare(files: Sequence[RepoFile]) -> Callable[[int], Iterable[tuple[int, float]]]:
        docs = [identifier_tokens(f.content) for f in files]
        index = BM25Index(docs)
        graph = ImportGraph([(f.path, f.content, f.language) for f in files]) if import_weight else None
        pos = {f.path: i for i, f in enumerate(files)}
        importers: dict[int, list[int]] = {}
        if graph is not None:
            for j, f in enumerate(files):
                for p in sorted(graph.imports(f.path)):
                    importers.setdefault(pos[p], []).append(j)

        def rank(target: int) -> Iterator[tuple[int, float]]:
            scores = index.scores(index.query_terms(docs[target]))
            scores[target] = 0.0
            top = scores.max(initial=0.0)
            if top > 0:
                scores /= top
            if graph is not None:
                for p in sorted(graph.imports(files[target].path)):
                    scores[pos[p]] += import_weight
                for j in importers.get(target, ()):
                    scores[j] += import_weight / 2
                scores[target] = 0.0
            return _ordered(scores, target)

        return rank

    return prepare


def hash_embedding(texts: Sequence[str], dim: int = 512) -> np.ndarray:
    """L2-normalized feature-hashed bag of identifier tokens (log tf); deterministic across processes."""
    import zlib

    out = np.zeros((len(texts), dim), dtype=np.float32)
    for r, text in enumerate(texts):
        for tok, c in Counter(identifier_tokens(text)).items():
            h = zlib.crc32(tok.encode())
            out[r, h % dim] += (1.0 if (h >> 31) & 1 else -1.0) * (1.0 + math.log(c))
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


def embedding_retriever(embed: Callable[[Sequence[str]], np.ndarray]) -> Retriever:
    """Cosine similarity of embeddings of whole files; ``embed`` maps texts to L2-normalized row vectors."""

    def prepare(files: Sequence[RepoFile]) -> Callable[[int], Iterable[tuple[int, float]]]:
        vecs = embed([f.content for f in files]) if files else np.zeros((0, 1), dtype=np.float32)

        def rank(target: int) -> Iterator[tuple[int, float]]:
            sims = vecs @ vecs[target]
            order = np.lexsort((np.arange(len(files)), -sims))  # best first, ties by index
            return ((int(i), float(sims[i])) for i in order if i != target)

        return rank

    return prepare


_RETRIEVERS: dict[str, Callable[[], Retriever]] = {
    "bm25_imports": lambda: bm25_imports(1.0),
    "bm25": lambda: bm25_imports(0.0),
    "hash_embed": lambda: embedding_retriever(hash_embedding),
}


def register_retriever(name: str, factory: Callable[[], Retriever]) -> None:
    """Add a ranker by name (e.g. a model-backed embedding retriever); the stage config refers to it by name.

    Register it at import time of a module the workers import too, so Spark and datatrove workers see it.
    """
    _RETRIEVERS[name] = factory


def get_retriever(name: str) -> Retriever:
    try:
        return _RETRIEVERS[name]()
    except KeyError:
        raise ValueError(f"unknown retriever {name!r}; choose one of {', '.join(sorted(_RETRIEVERS))}") from None


def retriever_names() -> list[str]:
    return sorted(_RETRIEVERS)


def select_context(ranked: Iterable[tuple[int, float]], sizes: Sequence[int], max_chars: int,
                   max_files: int, eligible: Callable[[int], bool] = lambda i: True,
                   max_scan: int | None = None) -> list[int]:
    """Greedy fill in rank order: indices of chosen files (most relevant first) within both budgets.

    At most ``max_scan`` candidates are looked at (default ``8 * max_files + 64``): on a repository of thousands
    of files the walk stops once the budget is nearly full instead of testing every remaining file.
    """
    chosen: list[int] = []
    used = 0
    smallest = min(sizes, default=0)
    scan = max_scan if max_scan is not None else 8 * max_files + 64
    for n_seen, (i, _score) in enumerate(ranked):
        if len(chosen) >= max_files or max_chars - used < smallest or n_seen >= scan:
            break  # nothing else can fit (or enough was tried)
        if not eligible(i) or used + sizes[i] > max_chars:
            continue
        chosen.append(i)
        used += sizes[i]
    return chosen
