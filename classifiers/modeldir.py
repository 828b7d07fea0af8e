"""A trained model directory: what ``train`` writes and ``eval`` / ``classify`` load.

```
<model dir>/model.json      format + version, dimension, domain, task, encoder (spec + content hash), chunking,
                            head and fastText settings, data (file, sha256, rows), split, held-out metrics
<model dir>/proxy_head.npz  the proxy's linear head (numpy arrays only)
<model dir>/fasttext.bin    the fastText baseline
<model dir>/MODEL_CARD.md   the same facts for people
<model dir>/report.html     proxy vs fastText on the held-out split
```

``FORMAT_VERSION`` changes whenever the layout or the meaning of a field changes; loading a directory written with
another version (or something that is not a model directory) is a one-line error, never a silent misread.
A directory's identity is its content hash as a side input (:func:`model_input`, ``codeflow.plan.SideInput``):
``classify`` declares every model directory as a side input of its run, so retraining into the same folder
changes the run's identity and a run is never resumed into shards scored by the old model.

Version 2: the encoder hash is ``SideInput.content_hash`` (16 hex digits), and the proxy head records its
feature set (pooling prefix, length feature) chosen by cross-validation.
Version 3: the proxy head averages one member per encoder layer (``proxy_head.npz`` holds each member's layer,
prefix and length flag; ``model.json``'s ``proxy.members``), and chunk vectors are mean token states per layer.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from codeflow.classifiers import fasttext_model
from codeflow.classifiers.encoder import Chunking, Chunks, encoder, encoder_hash, resolve_encoder
from codeflow.classifiers.labels import Task
from codeflow.classifiers.proxy import Head
from codeflow.errors import CodeflowError
from codeflow.plan import SideInput

FORMAT = "codeflow-quality-model"
FORMAT_VERSION = 3
MODEL_JSON = "model.json"
SCORERS = ("proxy", "fasttext")


class ModelDirError(CodeflowError):
    """Not a model directory, or one written by another format version."""


def read_meta(model_dir: str) -> dict:
    path = os.path.join(model_dir, MODEL_JSON)
    if not os.path.isfile(path):
        raise ModelDirError(f"{model_dir} is not a quality model directory (no {MODEL_JSON}); "
                            "make one with `codeflow classifiers train`")
    try:
        with open(path) as f:
            meta = json.load(f)
    except ValueError as e:
        raise ModelDirError(f"{path} is not valid JSON: {e}") from e
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ModelDirError(f"{model_dir} holds format {meta.get('format')!r} version {meta.get('format_version')!r}; "
                            f"this codeflow reads {FORMAT!r} version {FORMAT_VERSION}: retrain it with "
                            "`codeflow classifiers train`")
    return meta


def model_input(model_dir: str, name: str = "model") -> SideInput:
    """``model_dir`` as a side input of a run (checked to be a model directory first)."""
    read_meta(model_dir)
    return SideInput(name, model_dir)


@dataclass
class QualityModel:
    """A loaded model directory: both scorers, the task and the encoder settings."""

    path: str
    meta: dict
    task: Task
    head: Head
    chunking: Chunking
    _fasttext: object = None

    @classmethod
    def load(cls, model_dir: str) -> QualityModel:
        meta = read_meta(model_dir)
        enc = meta["encoder"]
        folder = resolve_encoder(enc["spec"])
        if encoder_hash(folder) != enc["hash"]:
            raise ModelDirError(f"{model_dir} was trained with encoder {enc['spec']!r} hash {enc['hash'][:12]}, but "
                                f"{folder} has other files now: retrain it")
        return cls(model_dir, meta, Task.from_json(meta["task"]), Head.load(model_dir), Chunking(**meta["chunking"]))

    @property
    def dimension(self) -> str:
        return self.meta["dimension"]

    @property
    def domain(self) -> str:
        return self.meta["domain"]

    def embed(self, texts: list[str], threads: int = 1, batch_size: int = 32) -> Chunks:
        """The chunk vectors the proxy reads (``chunking.max_chunks`` chunks of every text, every layer)."""
        return encoder(self.meta["encoder"]["spec"], threads).embed_chunks(texts, self.chunking, batch_size)

    def fasttext(self):
        if self._fasttext is None:
            self._fasttext = fasttext_model.load(self.path)
        return self._fasttext

    def score(self, texts: list[str], scorer: str = "proxy", threads: int = 1, batch_size: int = 32
              ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, predicted bucket) of ``texts`` by the chosen scorer."""
        if scorer == "proxy":
            return self.head.predict(self.embed(texts, threads, batch_size), texts, self.task)
        if scorer == "fasttext":
            return fasttext_model.predict(self.fasttext(), texts, self.task)
        raise ValueError(f"unknown scorer {scorer!r}; choose from {', '.join(SCORERS)}")
