"""The metrics every model is judged by, the same for the proxy and fastText, for ``train`` and ``eval``.

* ``spearman``: rank correlation of the model's score with the label (null when either is constant, or for a
  class task with more than two classes);
* ``macro_f1``: F1 averaged over the buckets (classes) present in the labels or predictions;
* ``precision`` / ``recall`` / ``f1`` at the keep threshold: positive = label >= threshold, predicted positive =
  score >= threshold (for a 0–5 score, threshold 3 is FineWeb-Edu's filter; for a probability, 0.5);
* ``confusion``: rows = true bucket, columns = predicted bucket;
* ``calibration``: predicted-score bins with the mean score and the mean label in each, and ``ece`` (the
  count-weighted mean gap, in score units); ``mae``: mean absolute error of the score.
"""

from __future__ import annotations

import numpy as np

from codeflow.classifiers.labels import Task

CALIBRATION_BINS = 10


def _r(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def spearman(scores: np.ndarray, labels: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    if len(scores) < 2 or np.ptp(scores) == 0 or np.ptp(labels) == 0:
        return None
    return _r(spearmanr(scores, labels).statistic)


def macro_f1(true: np.ndarray, pred: np.ndarray) -> float:
    f1s = []
    for c in sorted(set(true.tolist()) | set(pred.tolist())):
        tp = int(np.sum((true == c) & (pred == c)))
        fp = int(np.sum((true != c) & (pred == c)))
        fn = int(np.sum((true == c) & (pred != c)))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return _r(float(np.mean(f1s))) if f1s else 0.0


def at_threshold(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    pos, pred = labels >= threshold, scores >= threshold
    tp = int(np.sum(pos & pred))
    precision = tp / int(pred.sum()) if pred.any() else None
    recall = tp / int(pos.sum()) if pos.any() else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
    return {"threshold": threshold, "precision": _r(precision), "recall": _r(recall), "f1": _r(f1),
            "predicted_positive": int(pred.sum()), "positive": int(pos.sum())}


def calibration(scores: np.ndarray, labels: np.ndarray, lo: float, hi: float) -> dict:
    edges = np.linspace(lo, hi, CALIBRATION_BINS + 1)
    which = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, CALIBRATION_BINS - 1)
    bins, gap = [], 0.0
    for b in range(CALIBRATION_BINS):
        m = which == b
        if m.any():
            mp, ml = float(scores[m].mean()), float(labels[m].mean())
            bins.append({"lo": _r(edges[b]), "hi": _r(edges[b + 1]), "n": int(m.sum()), "mean_score": _r(mp),
                         "mean_label": _r(ml)})
            gap += m.sum() * abs(mp - ml)
    return {"bins": bins, "ece": _r(gap / len(scores)) if len(scores) else None}


def evaluate(task: Task, scores: np.ndarray, labels: list, pred: np.ndarray | None = None) -> dict:
    """All metrics for one model's ``scores`` on ``labels`` (see the module doc); ``pred`` is the predicted
    bucket when the score alone does not fix it (a class task with more than two classes)."""
    scores = np.asarray(scores, dtype=np.float64)
    true_b = task.bucket(labels)
    pred_b = np.asarray(pred, dtype=np.int64) if pred is not None else task.score_to_bucket(scores)
    k = len(task.classes)
    confusion = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(true_b, pred_b, strict=True):
        if 0 <= t < k and 0 <= p < k:
            confusion[t, p] += 1
    accuracy = _r(float(np.mean(true_b == pred_b))) if len(labels) else None
    out: dict = {"n": len(labels), "macro_f1": macro_f1(true_b, pred_b), "accuracy": accuracy,
                 "confusion": {"classes": list(task.classes), "matrix": confusion.tolist()}}
    y = task.numeric(labels)
    if y is None:
        out.update(spearman=None, mae=None, at_threshold=None, calibration=None)
        return out
    out["spearman"] = spearman(scores, y)
    out["mae"] = _r(float(np.mean(np.abs(scores - y)))) if len(y) else None
    out["at_threshold"] = at_threshold(scores, y, task.threshold)
    out["calibration"] = calibration(scores, y, task.lo, task.hi)
    return out
