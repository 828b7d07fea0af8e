"""The fastText baseline: supervised fastText on the bucketed labels, as DCLM and FineWeb-Edu's baselines do.

Texts become one line each (whitespace collapsed), labels ``__label__<bucket index>``. Hyperparameters are fixed
(below) rather than tuned per set: ``lr=0.1, epoch=25, wordNgrams=2, minCount=1, dim=100, bucket=100000``
(fastText's defaults but for more epochs and bigrams, which small label sets need, and 100k instead of 2M bigram
buckets, which keeps the file at ~45 MB instead of 800 MB; dim 64 diverged on the DCLM pages), one thread and a
fixed seed so a retrain gives the same model. fastText's SGD can still diverge ("Encountered NaN"); training then
restarts with half the learning rate (at most three times; the rate used is in ``model.json``). The score is the
expected bucket value under fastText's label probabilities (``sum_k p_k * value_k``) for a 0–5 task, and
P(bucket 1) for a binary or two-class task.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from codeflow.classifiers.labels import Task

PARAMS = {"lr": 0.1, "epoch": 25, "wordNgrams": 2, "minCount": 1, "dim": 100, "bucket": 100_000, "thread": 1}
FILE = "fasttext.bin"


def one_line(text: str) -> str:
    return " ".join(text.split())


def train(texts: list[str], buckets: np.ndarray, seed: int = 0):
    """A fastText supervised model on ``texts`` with bucket indices ``buckets``."""
    import fasttext

    fd, path = tempfile.mkstemp(suffix=".txt", prefix="codeflow-ft-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for text, b in zip(texts, buckets, strict=True):
                f.write(f"__label__{int(b)} {one_line(text)}\n")
        lr = PARAMS["lr"]
        for _ in range(3):
            try:
                return fasttext.train_supervised(path, seed=seed, verbose=0, **{**PARAMS, "lr": lr})
            except RuntimeError as e:
                if "NaN" not in str(e):
                    raise
                lr /= 2
        return fasttext.train_supervised(path, seed=seed, verbose=0, **{**PARAMS, "lr": lr})
    finally:
        os.unlink(path)


def load(model_dir: str):
    import fasttext

    return fasttext.load_model(os.path.join(model_dir, FILE))


def predict(model, texts: list[str], task: Task) -> tuple[np.ndarray, np.ndarray]:
    """(scores, predicted bucket) for ``texts``."""
    k = len(task.classes)
    probs = np.zeros((len(texts), k), dtype=np.float64)
    if texts:
        labels, p = model.predict([one_line(t) for t in texts], k=-1)
        for i, (ls, ps) in enumerate(zip(labels, p, strict=True)):
            for label, prob in zip(ls, ps, strict=True):
                probs[i, int(label.removeprefix("__label__"))] = prob
    probs /= np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
    pred = probs.argmax(axis=1)
    if task.kind == "score":
        values = task.lo + np.arange(k, dtype=np.float64)
        return probs @ values, pred
    return probs[:, -1], pred
