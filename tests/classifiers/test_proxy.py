"""The proxy head: one member per encoder layer, each member's feature choice (pooled prefix, length feature) on
the training split, the members' average as one linear head, and prefix pooling of every layer."""

from __future__ import annotations

import numpy as np

from codeflow.classifiers import proxy
from codeflow.classifiers.encoder import Chunking, Chunks, encoder
from codeflow.classifiers.labels import infer_task

DIM = 16


def synthetic(n: int, chunks_per_text: int, seed: int, layers: int = 1) -> tuple[Chunks, np.ndarray]:
    """Random unit chunk vectors, ``chunks_per_text`` per text and ``layers`` per chunk; returns them and a random
    direction."""
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(n * chunks_per_text, layers, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=2, keepdims=True)
    owner = np.repeat(np.arange(n), chunks_per_text)
    pos = np.tile(np.arange(chunks_per_text), n)
    return Chunks(vecs, owner, pos, n), rng.normal(size=DIM)


def test_the_training_split_decides_the_prefix_and_the_length_feature() -> None:
    n = 200
    rng = np.random.default_rng(0)
    # labels carried by the first chunk only; later chunks are noise and the length says nothing
    chunks, w = synthetic(n, 8, seed=1)
    first = chunks.vecs[chunks.pos == 0, 0] @ w
    y = np.clip(np.round(2.5 + first), 0, 5)
    texts = ["x" * int(rng.integers(100, 5000)) for _ in range(n)]
    head = proxy.train(chunks, texts, y.tolist(), infer_task(y.tolist()), max_chunks=8)
    assert head.max_chunks == 1 and head.layers.tolist() == [0]
    assert {(k, u) for _, k, u, _, _ in head.selection} == {(k, u) for k in (1, 2, 4, 8) for u in (False, True)}
    assert min(head.selection, key=lambda c: c[4])[1:3] == (head.max_chunks, head.use_length)  # lowest loss wins

    # labels carried by the length only: the length feature is chosen, and the head predicts with it
    chunks, _ = synthetic(n, 2, seed=2)
    lengths = rng.integers(50, 20000, n)
    y = np.clip(np.round(np.log(lengths) - 4), 0, 5)
    texts = ["y" * int(k) for k in lengths]
    task = infer_task(y.tolist())
    head = proxy.train(chunks, texts, y.tolist(), task, max_chunks=8)
    assert head.use_length
    scores, _ = head.predict(chunks, texts, task)
    assert np.corrcoef(scores, y)[0, 1] > 0.9


def test_one_member_per_layer_each_choosing_its_own_features_and_the_head_is_their_mean() -> None:
    """The label lives in the first chunk of layer 0 and in every chunk of layer 1 (the mean over 4 chunks): each
    member picks its own prefix by its own training loss, and the stored head is exactly the members' average."""
    n = 240
    chunks, w = synthetic(n, 4, seed=5, layers=3)
    vecs = chunks.vecs.copy()
    vecs[:, 1] = vecs[:, 0]  # layer 1 repeats layer 0's chunks; the label below reads all four of them
    chunks = Chunks(vecs, chunks.owner, chunks.pos, n)
    y = (chunks.pool(1, 0) @ w + chunks.pool(4, 1) @ w > 0).astype(int)
    texts = ["z" * int(k) for k in np.random.default_rng(6).integers(100, 3000, n)]
    task = infer_task(y.tolist())
    head = proxy.train(chunks, texts, y.tolist(), task, max_chunks=4)
    assert head.layers.tolist() == [0, 1, 2] and head.kind == "softmax"
    assert head.W.shape == (3 * DIM + head.use_length, 2)  # one block per member, one shared length row
    for layer in range(3):  # each member is its own layer's lowest-loss candidate
        mine = [c for c in head.selection if c[0] == layer]
        assert len(mine) == 3 * 2 and min(mine, key=lambda c: c[4])[1:3] == (head.chunks[layer], head.length[layer])
    logits = head.features(chunks, texts) @ head.W + head.b
    members = []
    z = proxy.length_column(texts, head.len_mean, head.len_std)
    for layer, k, u, reg in zip(head.layers, head.chunks, head.length, head.regs, strict=True):
        F = chunks.pool(int(k), int(layer)).astype(np.float64)
        F = np.hstack([F, z]) if u else F
        W, b, _ = proxy._fit(F, y.tolist(), task, float(reg))
        members.append(F @ W + b)
    assert np.allclose(logits, np.mean(members, axis=0), atol=1e-9)
    scores, pred = head.predict(chunks, texts, task)
    assert np.mean(pred == y) > 0.8 and np.allclose(scores, 1 / (1 + np.exp(logits[:, 0] - logits[:, 1])))
    capped, _ = head.predict(chunks, texts, task, max_chunks=1)  # classify --max-chunks 1: every member pools 1
    assert np.allclose(capped, head.predict(Chunks(vecs[chunks.pos < 1], chunks.owner[chunks.pos < 1],
                                                   chunks.pos[chunks.pos < 1], n), texts, task)[0])


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
    assert chunks.layers == 7 and chunks.vecs.shape[1:] == (7, enc.dim)  # embeddings output + 6 blocks
    # the last layer's mean token state of a one-chunk text is the model's own (mean-pooled) sentence embedding
    st = enc.model.encode([texts[1]], normalize_embeddings=True)[0]
    assert np.allclose(chunks.pool(1, -1)[1], st, atol=1e-5)
    assert not np.allclose(chunks.pool(1, 0)[1], st, atol=1e-2)  # and the word-piece layer is something else
    # pieces are batched longest first: which other texts share the batch changes nothing beyond float rounding
    alone = enc.embed_chunks([texts[1]], Chunking(254, 3))
    assert np.allclose(alone.vecs, chunks.vecs[chunks.owner == 1], atol=1e-5)
