"""Label files: any Parquet / JSONL / CSV with a text column and a label column, the task they define, the split.

Labels are numbers (scores) or classes:

* numbers all within [0, 1] (a human 0/1 judgement, a toxicity probability): a **binary** task; the bucket is
  ``label >= 0.5``, a model's score is the probability of bucket 1;
* other numbers: a **score** task (FineWeb-Edu's 0–5 rubric); the bucket is the label rounded half up to an
  integer, clipped to the rubric's range ``[0, 5]`` when the labels fit it, else to ``[floor(min), ceil(max)]``;
  a model's score is a number in that range;
* strings: a **class** task; the buckets are the classes, a model's score is the probability of the last class
  in sorted order (only meaningful with two classes; Spearman is not defined for more).

The buckets are what fastText trains on (``__label__3``) and what macro-F1 and the confusion matrix count,
the way FineWeb-Edu buckets its 0–5 scores for classification metrics.

The split is seeded and stratified by bucket; a text's side is fixed by a hash of (seed, text), so duplicate
texts never straddle train and test, and the split does not depend on file order.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codeflow.errors import CodeflowError


class LabelError(CodeflowError):
    """A label file that cannot be trained or evaluated on (missing columns, one class, no rows)."""


@dataclass(frozen=True)
class Task:
    """What a label column means; stored in the model card so ``eval`` reads new labels the same way."""

    kind: str  # "binary" | "score" | "class"
    lo: float = 0.0
    hi: float = 1.0
    classes: tuple[str, ...] = ()
    threshold: float = 0.5  # keep threshold in score units (P/R at threshold; ``classify --keep`` default)

    def to_json(self) -> dict:
        return {**asdict(self), "classes": list(self.classes)}

    @classmethod
    def from_json(cls, d: dict) -> Task:
        return cls(kind=d["kind"], lo=d["lo"], hi=d["hi"], classes=tuple(d["classes"]), threshold=d["threshold"])

    def bucket(self, labels: list) -> np.ndarray:
        """Bucket index per label (index into ``classes``); -1 for a class the task does not know."""
        if self.kind == "class":
            index = {c: i for i, c in enumerate(self.classes)}
            return np.array([index.get(str(v), -1) for v in labels], dtype=np.int64)
        y = np.asarray(labels, dtype=np.float64)
        if self.kind == "binary":
            return (y >= 0.5).astype(np.int64)
        return (np.floor(np.clip(y, self.lo, self.hi) + 0.5) - self.lo).astype(np.int64)

    def score_to_bucket(self, scores: np.ndarray) -> np.ndarray:
        """The bucket a model's score falls in (the predicted class for macro-F1 and the confusion matrix)."""
        if self.kind == "score":
            return (np.floor(np.clip(scores, self.lo, self.hi) + 0.5) - self.lo).astype(np.int64)
        return (np.asarray(scores) >= 0.5).astype(np.int64)

    def numeric(self, labels: list) -> np.ndarray | None:
        """Labels as numbers for Spearman and calibration (None for a class task with more than two classes)."""
        if self.kind != "class":
            return np.asarray(labels, dtype=np.float64)
        if len(self.classes) == 2:
            return self.bucket(labels).astype(np.float64)
        return None


def infer_task(labels: list, threshold: float | None = None) -> Task:
    """The task a label column defines (see the module doc); a single class is an error."""
    if not labels:
        raise LabelError("no labelled rows (every row had an empty text or a null label)")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in labels):
        y = np.asarray(labels, dtype=np.float64)
        if not np.isfinite(y).all():
            raise LabelError("labels must be finite numbers (found NaN or infinity)")
        lo_v, hi_v = float(y.min()), float(y.max())
        if lo_v >= 0.0 and hi_v <= 1.0:
            task = Task("binary", 0.0, 1.0, ("0", "1"), 0.5 if threshold is None else threshold)
        else:
            lo, hi = (0.0, 5.0) if lo_v >= 0.0 and hi_v <= 5.0 else (math.floor(lo_v), math.ceil(hi_v))
            classes = tuple(str(int(lo + i)) for i in range(int(hi - lo) + 1))
            task = Task("score", lo, hi, classes, 3.0 if threshold is None and hi == 5.0 and lo == 0.0
                        else (lo + hi) / 2 if threshold is None else threshold)
    else:
        classes = tuple(sorted({str(v) for v in labels}))
        task = Task("class", 0.0, 1.0, classes, 0.5 if threshold is None else threshold)
    present = set(task.bucket(labels).tolist())
    if len(present) < 2:
        only = task.classes[next(iter(present))] if present else "?"
        raise LabelError(f"the labels hold a single class ({only!r} for all {len(labels)} rows): nothing to learn; "
                         "a classifier needs examples of at least two classes")
    return task


@dataclass
class LabelSet:
    """Texts and labels read from a file; ``dropped`` counts rows left out (null or empty text, null label)."""

    texts: list[str]
    labels: list
    source: str
    text_column: str
    label_column: str
    dropped: int = 0
    sha256: str = ""


def read_labels(path: str, text_column: str = "text", label_column: str = "label",
                dimension: str | None = None) -> LabelSet:
    """Read ``path`` (Parquet, JSONL, CSV; gzip ok). An annotations file (with a ``dimension`` column) is
    filtered to ``dimension``'s rows."""
    table = _read_any(path)
    missing = [c for c in (text_column, label_column) if c not in table.column_names]
    if missing:
        raise LabelError(f"{path}: no column {', '.join(map(repr, missing))} (columns: "
                         f"{', '.join(table.column_names)}); name them with --text-column / --label-column")
    if dimension and "dimension" in table.column_names:
        table = table.filter(pc.equal(table.column("dimension"), dimension))
        if table.num_rows == 0:
            raise LabelError(f"{path}: no rows for dimension {dimension!r}")
    texts = table.column(text_column).to_pylist()
    labels = table.column(label_column).to_pylist()
    keep = [i for i, (t, y) in enumerate(zip(texts, labels, strict=True))
            if isinstance(t, str) and t.strip() and y is not None and not (isinstance(y, float) and math.isnan(y))]
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return LabelSet([texts[i] for i in keep], [labels[i] for i in keep], path, text_column, label_column,
                    dropped=len(texts) - len(keep), sha256=digest)


def _read_any(path: str) -> pa.Table:
    import pyarrow.csv as pacsv

    from codeflow.sources import read_table_file

    try:
        if path.endswith((".csv", ".csv.gz")):
            return pacsv.read_csv(path)
        return read_table_file(path)
    except FileNotFoundError as e:
        raise LabelError(f"label file not found: {path}") from e
    except (pa.ArrowInvalid, OSError) as e:
        raise LabelError(f"cannot read label file {path}: {str(e).splitlines()[0]}") from e


def split(texts: list[str], buckets: np.ndarray, seed: int = 0, test_fraction: float = 0.2
          ) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices): per bucket, the ``test_fraction`` of texts with the smallest
    hash(seed, text) go to test (at least one per bucket with two or more texts)."""
    def rank(i: int) -> bytes:
        return hashlib.blake2b(f"{seed}\x00{texts[i]}".encode("utf-8", "surrogatepass"), digest_size=8).digest()

    test: list[int] = []
    for b in sorted(set(buckets.tolist())):
        members = sorted(np.flatnonzero(buckets == b).tolist(), key=lambda i: (rank(i), i))
        n_test = min(max(1, round(len(members) * test_fraction)), len(members) - 1) if len(members) > 1 else 0
        # identical texts share a rank, so they land on the same side
        cut = rank(members[n_test - 1]) if n_test else None
        test.extend(i for i in members if cut is not None and rank(i) <= cut)
    test_idx = np.array(sorted(test), dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(len(texts)), test_idx)
    return train_idx, test_idx
