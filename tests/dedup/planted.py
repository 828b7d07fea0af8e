"""A corpus with planted near-duplicates at known edit rates, and exact-Jaccard ground truth.

Each family is a random base document plus copies with a known number of word substitutions (and a few
deletions), so pair similarities straddle any threshold in (0.6, 0.95). Ground truth is the exact Jaccard
of the reference shingle sets (``codeflow.testing.minhash_ref``), not of signatures.
"""

from __future__ import annotations

import itertools
import random

import pyarrow as pa
import pyarrow.parquet as pq

from codeflow.testing import minhash_ref

EDITS = (0, 1, 2, 3, 5, 10)


def planted_corpus(n_families: int = 40, words: int = 120, seed: int = 7, singles: int = 40) -> list[str]:
    rng = random.Random(seed)
    vocab = [f"{rng.choice('bcdfgklmnprstv')}{rng.choice('aeiou')}{rng.choice('lmnrst')}{i}" for i in range(3000)]
    docs = []
    for _ in range(n_families):
        base = [rng.choice(vocab) for _ in range(words)]
        docs.append(" ".join(base))
        for edits in rng.sample(EDITS[1:], 3):
            copy = list(base)
            for pos in rng.sample(range(len(copy)), edits):
                copy[pos] = rng.choice(vocab)
            if edits >= 3:
                del copy[rng.randrange(len(copy))]
            docs.append(" ".join(copy))
    docs += [" ".join(rng.choice(vocab) for _ in range(words)) for _ in range(singles)]
    rng.shuffle(docs)
    return docs


def write_units(docs: list[str], folder, n_units: int = 3, extra: dict | None = None) -> list[str]:
    paths = []
    for u in range(n_units):
        cols = {"id": [doc_id(i) for i in range(u, len(docs), n_units)], "text": docs[u::n_units]}
        for name, values in (extra or {}).items():
            cols[name] = values[u::n_units]
        path = folder / f"part-{u}.parquet"
        pq.write_table(pa.table(cols), path)
        paths.append(str(path))
    return paths


def doc_id(i: int) -> str:
    return f"d{i:05d}"


def true_pairs(docs: list[str], threshold: float, ngram: int = 5) -> set[tuple[str, str]]:
    """Id pairs whose exact shingle-set Jaccard reaches ``threshold``."""
    sets = [minhash_ref.shingles(d, "words", ngram) for d in docs]
    return {(doc_id(i), doc_id(j)) for i, j in itertools.combinations(range(len(docs)), 2)
            if minhash_ref.jaccard(sets[i], sets[j]) >= threshold}


def predicted_pairs(rejects: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Id pairs in the same cluster, from reject rows ``(id, keeper_id)``."""
    clusters: dict[str, list[str]] = {}
    for rid, keeper in rejects:
        clusters.setdefault(keeper, [keeper]).append(rid)
    return {tuple(sorted(p)) for members in clusters.values() for p in itertools.combinations(members, 2)}


def dup_docs(pairs: set[tuple[str, str]]) -> set[str]:
    return {d for p in pairs for d in p}


def precision_recall(pred: set, truth: set) -> tuple[float, float]:
    tp = len(pred & truth)
    return (tp / len(pred) if pred else 1.0), (tp / len(truth) if truth else 1.0)
