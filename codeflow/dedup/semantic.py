"""Semantic dedup (the third level): embeddings, random-hyperplane LSH bands, integer cosine verification.

It reuses MinHash's machinery end to end: per unit, documents become a "signature" (the embedding quantized
to int8, stored as int64) and band keys (``rows`` sign bits of random projections per band, so two
documents at cosine c share a band with probability ``(1 - acos(c)/pi) ** rows``); the shared clustering SQL
verifies each candidate edge by the *integer* dot product of the quantized vectors (~ 127^2 * cosine), which
both engines compute exactly, and the same keeper rule picks one document per cluster.

The encoder is pluggable: any ``Callable[[list[str]], np.ndarray]`` named by a spec string (configs must be
picklable and hashable, so the encoder itself is loaded lazily, once per process):

* ``hashing`` / ``hashing:DIM`` -- a deterministic, model-free encoder (signed feature hashing of character
  3-grams, L2-normalized): lexical, but a useful baseline and what the tests use;
* a local directory -- a sentence-transformers model, loaded with ``HF_HUB_OFFLINE=1``; nothing is ever
  downloaded (needs the optional ``sentence-transformers`` package);
* ``package.module:attr`` -- your own callable (or a class instantiated without arguments).
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xxhash

from codeflow.errors import CodeflowError

STAGE = "dedup_semantic"
QUANT = 127
Encoder = Callable[[list[str]], np.ndarray]
_ENCODERS: dict[str, Encoder] = {}


class EncoderError(CodeflowError):
    """The encoder spec names nothing loadable (missing path, package or attribute)."""


@dataclass(frozen=True)
class SemanticConfig:
    """``threshold`` is the cosine similarity above which two documents are duplicates."""

    encoder: str = "hashing"
    text_column: str | None = None
    id_column: str = "id"
    threshold: float = 0.9
    bands: int = 16
    rows: int = 8
    seed: int = 1
    batch_size: int = 64
    score_column: str = "quality_score"
    stars_column: str = "stars"
    memory_limit: str = "2GB"

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if not 1 <= self.rows <= 62:
            raise ValueError("rows (sign bits per band) must be in 1..62")

    @property
    def min_dot(self) -> int:
        return math.ceil(self.threshold * QUANT * QUANT - 1e-9)


class HashingEncoder:
    """Signed feature hashing of lowercased character 3-grams into ``dim`` buckets, L2-normalized."""

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            t = " ".join(text.lower().split())
            for j in range(max(len(t) - 2, 0)):
                h = xxhash.xxh3_64_intdigest(t[j:j + 3].encode("utf-8"))
                out[i, h % self.dim] += 1.0 if (h >> 63) else -1.0
        return out


def _sentence_transformer(path: str) -> Encoder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise EncoderError("a model directory needs the optional package sentence-transformers "
                           "(pip install sentence-transformers); or use --encoder hashing") from e
    model = SentenceTransformer(path, device="cpu", local_files_only=True)
    return lambda texts: model.encode(texts, convert_to_numpy=True, normalize_embeddings=True)


def load_encoder(spec: str) -> Encoder:
    """The encoder named by ``spec``, cached per process."""
    if spec in _ENCODERS:
        return _ENCODERS[spec]
    if spec == "hashing" or spec.startswith("hashing:"):
        enc: Encoder = HashingEncoder(int(spec.split(":", 1)[1]) if ":" in spec else 256)
    elif os.path.isdir(spec):
        enc = _sentence_transformer(spec)
    elif ":" in spec:
        module, attr = spec.split(":", 1)
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise EncoderError(f"cannot load encoder {spec!r}: {e}") from e
        enc = obj() if isinstance(obj, type) else obj
    else:
        raise EncoderError(f"encoder {spec!r} is neither 'hashing[:DIM]', a model directory, nor module:attr")
    _ENCODERS[spec] = enc
    return enc


def embed(texts: list[str], cfg: SemanticConfig) -> np.ndarray:
    """L2-normalized float32 embeddings, encoded in batches of ``cfg.batch_size``."""
    enc = load_encoder(cfg.encoder)
    parts = [np.asarray(enc(texts[i:i + cfg.batch_size]), dtype=np.float32)
             for i in range(0, len(texts), cfg.batch_size)]
    emb = np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return np.divide(emb, norms, out=np.zeros_like(emb), where=norms > 0)


def semantic_sign(texts: list[str], cfg: SemanticConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(quantized int64 vectors, band keys (n, bands) int64, has_keys mask)`` for a batch of texts."""
    emb = embed(texts, cfg)
    n, dim = emb.shape
    quant = np.rint(emb * QUANT).astype(np.int64)
    rng = np.random.Generator(np.random.PCG64(cfg.seed))
    planes = rng.standard_normal((dim, cfg.bands * cfg.rows)).astype(np.float32)
    bits = (emb @ planes > 0).reshape(n, cfg.bands, cfg.rows).astype(np.int64)
    keys = (bits << np.arange(cfg.rows, dtype=np.int64)).sum(axis=2)
    has = np.abs(emb).sum(axis=1) > 0
    return quant, keys, has
