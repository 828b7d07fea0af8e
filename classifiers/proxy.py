"""The proxy's head over frozen encoder embeddings: linear, fitted with scikit-learn, applied with numpy.

* score task (0–5): ridge regression on the score (the FineWeb-Edu classifier is a regression head); the
  prediction is clipped to the rubric's range;
* binary / class task: multinomial logistic regression on the buckets; the score is P(last bucket).

**Features, chosen per model on the training split only.** The candidates are the pooled embedding of the first
``k`` chunks for ``k`` in 1, 2, 4 and the model's ``max_chunks`` (a prefix that no training text is long enough
to tell apart from a longer one is dropped in favour of the longer, configured one), each with or without the
text's log length in characters (standardized with the training split's mean and deviation and clipped to the
range seen in training, so a model trained on tweets does not extrapolate its length weight to 10,000-character
pages). Mean pooling hides how long a document is, and length is a strong signal on some sets (DCLM's human
judgements) and noise on others (FineWeb-Edu teacher scores, where a length weight fitted on 120 texts cost
~0.08 of held-out Spearman): neither choice is right for every label set, so the training split decides.

Each candidate gets its regularization and a held-out loss from the training split alone: ridge over 13 alphas by
efficient leave-one-out (mean squared error); logistic over 7 values of C by 3 stratified folds in input order
(log loss). The candidate with the lowest loss wins (ties: fewer chunks, then no length feature), and is refitted
on the whole training split. Every candidate's loss is recorded in the model card. Only the weights are stored
(``proxy_head.npz``: ``W``, ``b``, no pickle), and inference is one matrix product in numpy, so scoring does not
depend on the scikit-learn version and gives the same bytes on every engine.
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
    """``kind``: 'ridge' (score = X W + b) or 'softmax' (probabilities = softmax(X W + b))."""

    kind: str
    W: np.ndarray
    b: np.ndarray
    reg: float
    len_mean: float = 0.0
    len_std: float = 1.0
    len_lo: float = -np.inf  # the standardized log length is clipped to the training range
    len_hi: float = np.inf
    use_length: bool = True  # False: W has no row for the length feature
    max_chunks: int = 0  # the pooled prefix the head was fitted on (0: the model's chunking)
    selection: tuple = ()  # every candidate tried: (max_chunks, use_length, regularization, held-out loss)

    def save(self, model_dir: str) -> None:
        np.savez(os.path.join(model_dir, FILE), kind=np.array(self.kind), W=self.W, b=self.b,
                 reg=np.array(self.reg), len_mean=np.array(self.len_mean), len_std=np.array(self.len_std),
                 len_lo=np.array(self.len_lo), len_hi=np.array(self.len_hi), use_length=np.array(self.use_length),
                 max_chunks=np.array(self.max_chunks))

    @classmethod
    def load(cls, model_dir: str) -> Head:
        with np.load(os.path.join(model_dir, FILE), allow_pickle=False) as z:
            return cls(str(z["kind"]), z["W"], z["b"], float(z["reg"]), float(z["len_mean"]), float(z["len_std"]),
                       float(z["len_lo"]), float(z["len_hi"]), bool(z["use_length"]), int(z["max_chunks"]))

    def predict(self, X: np.ndarray, texts: list[str], task: Task) -> tuple[np.ndarray, np.ndarray]:
        """(scores, predicted bucket) for embeddings ``X`` of ``texts``."""
        F = features(X, texts, self.len_mean, self.len_std, self.len_lo, self.len_hi) if self.use_length else X
        z = F.astype(np.float64) @ self.W + self.b
        if self.kind == "ridge":
            scores = np.clip(z[:, 0], task.lo, task.hi)
            return scores, task.score_to_bucket(scores)
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return p[:, -1], p.argmax(axis=1)


def log_lengths(texts: list[str]) -> np.ndarray:
    return np.log1p(np.array([len(t or "") for t in texts], dtype=np.float64))


def features(X: np.ndarray, texts: list[str], len_mean: float, len_std: float, lo: float = -np.inf,
             hi: float = np.inf) -> np.ndarray:
    """The head's input: embedding columns, then the standardized log length clipped to ``[lo, hi]``."""
    z = np.clip((log_lengths(texts) - len_mean) / len_std, lo, hi)
    return np.hstack([X.astype(np.float64), z[:, None]])


def train(chunks: Chunks, texts: list[str], labels: list, task: Task, max_chunks: int) -> Head:
    """Fit the head on the training texts' chunk vectors (see the module doc for the candidates)."""
    ll = log_lengths(texts)
    len_mean, len_std = float(ll.mean()), float(ll.std()) or 1.0
    len_lo, len_hi = float((ll.min() - len_mean) / len_std), float((ll.max() - len_mean) / len_std)
    tried = []
    best = None
    for k, X in candidate_poolings(chunks, max_chunks):
        for use_length in (False, True):
            F = features(X, texts, len_mean, len_std) if use_length else X.astype(np.float64)
            reg, loss = _select(F, labels, task)
            tried.append((k, use_length, reg, round(loss, 6)))
            if best is None or loss < best[0]:
                best = (loss, k, use_length, F, reg)
    _, k, use_length, F, reg = best
    W, b, kind = _fit(F, labels, task, reg)
    return Head(kind, W, b, reg, len_mean, len_std, len_lo, len_hi, use_length, k, tuple(tried))


def candidate_poolings(chunks: Chunks, max_chunks: int) -> list[tuple[int, np.ndarray]]:
    """(k, pooled embedding of the first k chunks) for k in PREFIXES and ``max_chunks``, fewest chunks first; a
    prefix no training text is long enough to tell apart from the next one is replaced by that longer one."""
    ks = sorted({min(p, max_chunks) for p in PREFIXES} | {max_chunks})
    longest = int(chunks.pos.max()) + 1 if len(chunks.pos) else 1
    out: list[tuple[int, np.ndarray]] = []
    for i, k in enumerate(ks):
        if i + 1 < len(ks) and longest <= k:  # every text has at most k chunks: the longer prefixes are the same
            continue
        out.append((k, chunks.pool(k)))
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
