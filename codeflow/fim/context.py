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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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

    def __call__(self, files: Sequence[RepoFile]) -> Callable[[int], list[tuple[int, float]]]:
        """Prepare over all files of a repo; the returned function gives, for target index ``i``, the other
        files as ``(index, score)``, best first."""


class BM25Index:
    """Okapi BM25 over identifier tokens with an inverted index (cost grows with postings, not files^2)."""

    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.tfs = [Counter(d) for d in docs]
        self.lens = [len(d) for d in docs]
        self.avgdl = (sum(self.lens) / len(self.lens)) if self.lens and sum(self.lens) else 1.0
        df: Counter = Counter()
        self.postings: dict[str, list[int]] = {}
        for i, tf in enumerate(self.tfs):
            for term in tf:
                df[term] += 1
                self.postings.setdefault(term, []).append(i)
        n = len(docs)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}

    def query_terms(self, terms: Sequence[str], limit: int = 64) -> list[str]:
        """The ``limit`` rarest distinct terms of a query: they carry almost all of the BM25 score, and the
        cap keeps a target's cost bounded on repos with thousands of files (common terms have long postings)."""
        uniq = sorted(set(terms), key=lambda t: (-self.idf.get(t, 0.0), t))
        return uniq[:limit]

    def scores(self, query_terms: Sequence[str]) -> dict[int, float]:
        out: dict[int, float] = {}
        k1, b, avgdl = self.k1, self.b, self.avgdl
        for term in sorted(set(query_terms)):  # fixed order: float sums must not depend on PYTHONHASHSEED
            idf = self.idf.get(term)
            if idf is None:
                continue
            for i in self.postings[term]:
                tf = self.tfs[i][term]
                denom = tf + k1 * (1 - b + b * self.lens[i] / avgdl)
                out[i] = out.get(i, 0.0) + idf * tf * (k1 + 1) / denom
        return out


def _ordered(scores: dict[int, float], n: int, target: int) -> list[tuple[int, float]]:
    ranked = [(i, scores.get(i, 0.0)) for i in range(n) if i != target]
    ranked.sort(key=lambda x: (-x[1], x[0]))
    return ranked


def bm25_imports(import_weight: float = 1.0) -> Retriever:
    def prepare(files: Sequence[RepoFile]) -> Callable[[int], list[tuple[int, float]]]:
        docs = [identifier_tokens(f.content) for f in files]
        index = BM25Index(docs)
        graph = ImportGraph([(f.path, f.content, f.language) for f in files]) if import_weight else None
        pos = {f.path: i for i, f in enumerate(files)}
        importers: dict[int, list[int]] = {}
        if graph is not None:
            for j, f in enumerate(files):
                for p in sorted(graph.imports(f.path)):
                    importers.setdefault(pos[p], []).append(j)

        def rank(target: int) -> list[tuple[int, float]]:
            raw = index.scores(index.query_terms(docs[target]))
            raw.pop(target, None)
            top = max(raw.values(), default=0.0)
            scores = {i: s / top for i, s in raw.items()} if top > 0 else {}
            if graph is not None:
                for p in sorted(graph.imports(files[target].path)):
                    j = pos[p]
                    scores[j] = scores.get(j, 0.0) + import_weight
                for j in importers.get(target, ()):
                    if j != target:
                        scores[j] = scores.get(j, 0.0) + import_weight / 2
            return _ordered(scores, len(files), target)

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

    def prepare(files: Sequence[RepoFile]) -> Callable[[int], list[tuple[int, float]]]:
        vecs = embed([f.content for f in files]) if files else np.zeros((0, 1), dtype=np.float32)

        def rank(target: int) -> list[tuple[int, float]]:
            sims = vecs @ vecs[target]
            return _ordered({i: float(s) for i, s in enumerate(sims)}, len(files), target)

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


def select_context(ranked: Sequence[tuple[int, float]], sizes: Sequence[int], max_chars: int,
                   max_files: int, eligible: Callable[[int], bool] = lambda i: True) -> list[int]:
    """Greedy fill in rank order: indices of chosen files (most relevant first) within both budgets."""
    chosen: list[int] = []
    used = 0
    for i, _score in ranked:
        if len(chosen) >= max_files or used >= max_chars:
            break
        if not eligible(i) or used + sizes[i] > max_chars:
            continue
        chosen.append(i)
        used += sizes[i]
    return chosen
