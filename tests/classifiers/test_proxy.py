"""The proxy head's feature choice (pooled prefix, length feature) on the training split, and prefix pooling."""

from __future__ import annotations

import numpy as np

from codeflow.classifiers import proxy
from codeflow.classifiers.encoder import Chunking, Chunks, encoder
from codeflow.classifiers.labels import infer_task

DIM = 16


def synthetic(n: int, chunks_per_text: int, seed: int) -> tuple[Chunks, np.ndarray]:
    """Random unit chunk vectors, ``chunks_per_text`` per text; returns them and a random direction."""
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(n * chunks_per_text, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    owner = np.repeat(np.arange(n), chunks_per_text)
    pos = np.tile(np.arange(chunks_per_text), n)
    return Chunks(vecs, owner, pos, n), rng.normal(size=DIM)


def test_the_training_split_decides_the_prefix_and_the_length_feature() -> None:
    n = 200
    rng = np.random.default_rng(0)
    # labels carried by the first chunk only; later chunks are noise and the length says nothing
    chunks, w = synthetic(n, 8, seed=1)
    first = chunks.vecs[chunks.pos == 0] @ w
    y = np.clip(np.round(2.5 + first), 0, 5)
    texts = ["x" * int(rng.integers(100, 5000)) for _ in range(n)]
    head = proxy.train(chunks, texts, y.tolist(), infer_task(y.tolist()), max_chunks=8)
    assert head.max_chunks == 1
    assert {(k, u) for k, u, _, _ in head.selection} == {(k, u) for k in (1, 2, 4, 8) for u in (False, True)}
    assert min(head.selection, key=lambda c: c[3])[:2] == (head.max_chunks, head.use_length)  # lowest loss wins

    # labels carried by the length only: the length feature is chosen, and the head predicts with it
    chunks, _ = synthetic(n, 2, seed=2)
    lengths = rng.integers(50, 20000, n)
    y = np.clip(np.round(np.log(lengths) - 4), 0, 5)
    texts = ["y" * int(k) for k in lengths]
    task = infer_task(y.tolist())
    head = proxy.train(chunks, texts, y.tolist(), task, max_chunks=8)
    assert head.use_length
    scores, _ = head.predict(chunks.pool(head.max_chunks), texts, task)
    assert np.corrcoef(scores, y)[0, 1] > 0.9


def test_prefixes_no_training_text_can_tell_apart_are_dropped_for_the_configured_one() -> None:
    one_chunk, _ = synthetic(30, 1, seed=3)  # tweets: every prefix pools the same vector
    assert [k for k, _ in proxy.candidate_poolings(one_chunk, 8)] == [8]
    three, _ = synthetic(30, 3, seed=4)
    assert [k for k, _ in proxy.candidate_poolings(three, 8)] == [1, 2, 8]
    assert [k for k, _ in proxy.candidate_poolings(three, 2)] == [1, 2]


def test_pooling_a_prefix_of_the_chunk_vectors_equals_encoding_fewer_chunks() -> None:
    enc = encoder("minilm", 1)
    long = " ".join(f"sentence {i} explains the lake layout." for i in range(400))  # > 3 windows
    texts = [long, "a short text", ""]
    chunks = enc.embed_chunks(texts, Chunking(254, 3))
    assert chunks.n == 3 and sorted(set(chunks.pos[chunks.owner == 0].tolist())) == [0, 1, 2]
    for k in (1, 2, 3):
        assert np.allclose(chunks.pool(k), enc.embed(texts, Chunking(254, k)), atol=1e-5)
    sub = chunks.subset(np.array([1, 0]))  # renumbered in the given order
    assert np.allclose(sub.pool(2), chunks.pool(2)[[1, 0]])
    assert not chunks.pool(3)[2].any()  # the empty text has no chunks: zeros
