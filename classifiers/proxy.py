"""The proxy's head over frozen encoder states: an average of linear heads, one per encoder layer, fitted with
scikit-learn and applied with numpy.

* score task (0–5): ridge regression on the score (the FineWeb-Edu classifier is a regression head); the
  prediction is clipped to the rubric's range;
* binary / class task: multinomial logistic regression on the buckets; the score is P(last bucket).

**One member per layer, averaged.** The encoder keeps the mean token state of every layer of every chunk
(:mod:`codeflow.classifiers.encoder`). The head fits one linear model per layer (the word-piece embeddings and each
transformer block: 7 for MiniLM-L6) and averages their outputs (ridge: the predictions; softmax: the logits), which
is again one linear model over the layers' vectors side by side, stored as one ``W``. Which layer carries a label
set's signal differs from set to set (for a teacher's educational score of web pages, the lower layers more than
the last, sentence-similarity one), and choosing one per training split was unreliable on 120 texts; averaging
every layer needs no choice, and it beats the last layer alone on page-level labels and ties on tweets
(``docs/classifiers.md``).

**Each member's features, chosen on the training split only.** The candidates are the layer's pooled vector of the
first ``k`` chunks for ``k`` in 1, 2, 4 and the model's ``max_chunks`` (a prefix that no training text is long
enough to tell apart from a longer one is dropped in favour of the longer, configured one), each with or without
the text's log length in characters (standardized with the training split's mean and deviation and clipped to the
range seen in training, so a model trained on tweets does not extrapolate its length weight to 10,000-character
pages). Mean pooling hides how long a document is, and length is a strong signal on some sets (DCLM's human
judgements) and noise on others (FineWeb-Edu teacher scores): neither choice is right for every label set, so the
training split decides, member by member.

Each candidate gets its regularization and a held-out loss from the training split alone: ridge over 13 alphas by
efficient leave-one-out (mean squared error); logistic over 7 values of C by 3 stratified folds in input order
(log loss). The candidate with the lowest loss wins (ties: fewer chunks, then no length feature), and is refitted
on the whole training split. Every candidate's loss is recorded in the model card. Fitting runs with one BLAS
thread: the fits are small, and a multi-threaded BLAS spinning on a shared machine made them tens of times
slower.
Only the weights are stored (``proxy_head.npz``: ``W``, ``b`` and each member's layer, prefix and length flag;
no pickle), and inference is one matrix product in numpy, so scoring does not depend on the scikit-learn version
and gives the same bytes on every engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from codeflow.classifiers.encoder import Chunks
from codeflow.classifiers.labels import Task

FILE = "proxy_head.npz"
ALPHAS = tuple(float(a) for a in np.logspace(-2, 4, 13))
PREFIXES = (1, 2, 4)  # chunk prefixes tried besides the model's max_chunks
CS = tuple(float(c) for c in np.logspace(-1.5, 1.5, 7))


@dataclass
class Head:
    """``kind``: 'ridge' (score = F W + b) or 'softmax' (probabilities = softmax(F W + b)), where ``F`` is each
    member's pooled vector side by side (member ``m``: layer ``layers[m]``, first ``chunks[m]`` chunks), then the
    standardized log length if any member uses it (``length[m]``)."""

    kind: str
    W: np.ndarray
    b: np.ndarray
    layers: np.ndarray
    chunks: np.ndarray
    length: np.ndarray
    regs: np.ndarray
    len_mean: float = 0.0
    len_std: float = 1.0
    len_lo: float = -np.inf  # the standardized log length is clipped to the training range
    len_hi: float = np.inf
    selection: tuple = ()  # every candidate tried: (layer, max_chunks, use_length, regularization, held-out loss)

    @property
    def max_chunks(self) -> int:
        """The most chunks any member pools: what inference must encode."""
        return int(self.chunks.max())

    @property
    def use_length(self) -> bool:
        return bool(self.length.any())

    def save(self, model_dir: str) -> None:
        np.savez(os.path.join(model_dir, FILE), kind=np.array(self.kind), W=self.W, b=self.b, layers=self.layers,
                 chunks=self.chunks, length=self.length, regs=self.regs, len_mean=np.array(self.len_mean),
                 len_std=np.array(self.len_std), len_lo=np.array(self.len_lo), len_hi=np.array(self.len_hi))

    @classmethod
    def load(cls, model_dir: str) -> Head:
        with np.load(os.path.join(model_dir, FILE), allow_pickle=False) as z:
            return cls(str(z["kind"]), z["W"], z["b"], z["layers"], z["chunks"], z["length"], z["regs"],
                       float(z["len_mean"]), float(z["len_std"]), float(z["len_lo"]), float(z["len_hi"]))

    def features(self, chunks: Chunks, texts: list[str], max_chunks: int | None = None) -> np.ndarray:
        """``F`` for ``texts`` from their chunk vectors; ``max_chunks`` caps every member's prefix (classify's
        ``--max-chunks``: fewer chunks encoded, a slightly different score for long texts)."""
        cap = max_chunks or self.max_chunks
        cols = [chunks.pool(min(int(k), cap), int(layer)).astype(np.float64)
                for layer, k in zip(self.layers, self.chunks, strict=True)]
        if self.use_length:
            cols.append(length_column(texts, self.len_mean, self.len_std, self.len_lo, self.len_hi))
        return np.hstack(cols)

    def predict(self, chunks: Chunks, texts: list[str], task: Task, max_chunks: int | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, predicted bucket) of ``texts`` from their chunk vectors."""
        z = self.features(chunks, texts, max_chunks) @ self.W + self.b
        if self.kind == "ridge":
            scores = np.clip(z[:, 0], task.lo, task.hi)
            return scores, task.score_to_bucket(scores)
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return p[:, -1], p.argmax(axis=1)


def log_lengths(texts: list[str]) -> np.ndarray:
    return np.log1p(np.array([len(t or "") for t in texts], dtype=np.float64))


def length_column(texts: list[str], len_mean: float, len_std: float, lo: float = -np.inf,
                  hi: float = np.inf) -> np.ndarray:
    """The standardized log length clipped to ``[lo, hi]``, as one column."""
    return np.clip((log_lengths(texts) - len_mean) / len_std, lo, hi)[:, None]


def train(chunks: Chunks, texts: list[str], labels: list, task: Task, max_chunks: int) -> Head:
    """Fit one member per encoder layer on the training texts' chunk vectors and average them (see the module
    doc for each member's candidates)."""
    from threadpoolctl import threadpool_limits

    ll = log_lengths(texts)
    len_mean, len_std = float(ll.mean()), float(ll.std()) or 1.0
    len_lo, len_hi = float((ll.min() - len_mean) / len_std), float((ll.max() - len_mean) / len_std)
    z = length_column(texts, len_mean, len_std)
    tried: list[tuple] = []
    members = []
    with threadpool_limits(limits=1):
        for layer in range(chunks.layers):
            best = None
            for k, X in candidate_poolings(chunks, max_chunks, layer):
                for use_length in (False, True):
                    F = np.hstack([X.astype(np.float64), z]) if use_length else X.astype(np.float64)
                    reg, loss = _select(F, labels, task)
                    tried.append((layer, k, use_length, reg, round(loss, 6)))
                    if best is None or loss < best[0]:
                        best = (loss, k, use_length, F, reg)
            _, k, use_length, F, reg = best
            W, b, kind = _fit(F, labels, task, reg)
            members.append((layer, k, use_length, reg, W, b))
    return _average(kind, members, chunks.vecs.shape[2], len_mean, len_std, len_lo, len_hi, tuple(tried))


def _average(kind: str, members: list, dim: int, len_mean: float, len_std: float, len_lo: float, len_hi: float,
             tried: tuple) -> Head:
    """The members' mean as one linear head: their weight blocks stacked (each divided by the member count), one
    length row summing the members' length weights, the mean bias."""
    m = len(members)
    blocks = [W[:dim] / m for *_, W, _ in members]
    length = np.array([u for _, _, u, *_ in members], dtype=bool)
    if length.any():
        blocks.append(sum(W[dim:dim + 1] for _, _, u, _, W, _ in members if u) / m)
    return Head(kind, np.vstack(blocks), sum(b for *_, b in members) / m,
                np.array([layer for layer, *_ in members], dtype=np.int64),
                np.array([k for _, k, *_ in members], dtype=np.int64), length,
                np.array([reg for _, _, _, reg, _, _ in members], dtype=np.float64),
                len_mean, len_std, len_lo, len_hi, tried)


def candidate_poolings(chunks: Chunks, max_chunks: int, layer: int = -1) -> list[tuple[int, np.ndarray]]:
    """(k, pooled ``layer`` vector of the first k chunks) for k in PREFIXES and ``max_chunks``, fewest chunks first;
    a prefix no training text is long enough to tell apart from the next one is replaced by that longer one."""
    ks = sorted({min(p, max_chunks) for p in PREFIXES} | {max_chunks})
    longest = int(chunks.pos.max()) + 1 if len(chunks.pos) else 1
    out: list[tuple[int, np.ndarray]] = []
    for i, k in enumerate(ks):
        if i + 1 < len(ks) and longest <= k:  # every text has at most k chunks: the longer prefixes are the same
            continue
        out.append((k, chunks.pool(k, layer)))
    return out


def _select(F: np.ndarray, labels: list, task: Task) -> tuple[float, float]:
    """(regularization, held-out loss) of the best setting for features ``F`` on the training split."""
    from sklearn.linear_model import RidgeCV

    if task.kind == "score":
        m = RidgeCV(alphas=ALPHAS).fit(F, np.asarray(labels, dtype=np.float64))  # efficient leave-one-out
        return float(m.alpha_), float(-m.best_score_)
    b = task.bucket(labels)
    counts = np.bincount(b)
    n_folds = max(2, min(3, int(counts[counts > 0].min())))
    return _pick_c(F, b, n_folds)


def _fit(F: np.ndarray, labels: list, task: Task, reg: float) -> tuple[np.ndarray, np.ndarray, str]:
    """(W, b, kind) fitted on the whole training split with regularization ``reg``."""
    from sklearn.linear_model import LogisticRegression, Ridge

    if task.kind == "score":
        m = Ridge(alpha=reg).fit(F, np.asarray(labels, dtype=np.float64))
        return m.coef_.reshape(-1, 1).astype(np.float64), np.array([m.intercept_], np.float64), "ridge"
    b = task.bucket(labels)
    k = len(task.classes)
    m = LogisticRegression(C=reg, max_iter=5000).fit(F, b)
    W = np.zeros((F.shape[1], k), np.float64)
    bias = np.full(k, -1e9, np.float64)  # a bucket absent from training gets probability 0
    if len(m.classes_) == 2:  # sklearn keeps one weight vector for two classes: logits (0, w.x + c)
        W[:, m.classes_[1]] = m.coef_[0]
        bias[m.classes_[0]], bias[m.classes_[1]] = 0.0, m.intercept_[0]
    else:
        for j, c in enumerate(m.classes_):
            W[:, c], bias[c] = m.coef_[j], m.intercept_[j]
    return W, bias, "softmax"


def _pick_c(X: np.ndarray, b: np.ndarray, n_folds: int) -> tuple[float, float]:
    """(C, mean held-out log loss) of the inverse regularization with the lowest loss over stratified folds
    (input order)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    classes = np.unique(b)
    losses = []
    for c in CS:
        loss = 0.0
        for tr, te in StratifiedKFold(n_folds).split(X, b):
            m = LogisticRegression(C=c, max_iter=5000).fit(X[tr], b[tr])
            p = np.zeros((len(te), len(classes)))
            p[:, np.searchsorted(classes, m.classes_)] = m.predict_proba(X[te])
            p /= p.sum(axis=1, keepdims=True)
            loss += log_loss(b[te], p, labels=classes)
        losses.append(loss / n_folds)
    i = int(np.argmin(losses))
    return CS[i], float(losses[i])
