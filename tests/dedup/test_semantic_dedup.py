"""Semantic dedup: pluggable encoders, cosine ground truth, the same keeper/reject machinery as MinHash."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from local_encoder import bag_of_words
from planted import planted_corpus, precision_recall, write_units

from codeflow.dedup.semantic import EncoderError, SemanticConfig, embed, load_encoder


def cosine_pairs(docs: list[str], cfg: SemanticConfig) -> set[tuple[str, str]]:
    emb = embed(docs, cfg)
    q = np.rint(emb * 127).astype(np.int64)
    return {(f"d{i:05d}", f"d{j:05d}") for i, j in itertools.combinations(range(len(docs)), 2)
            if int(q[i] @ q[j]) >= cfg.min_dot}


def test_semantic_dedup_with_a_local_callable_encoder(tmp_path, cli):
    docs = planted_corpus(n_families=15, words=40, singles=15, seed=3)
    write_units(docs, tmp_path, n_units=2)
    cfg = SemanticConfig(encoder="local_encoder:bag_of_words", threshold=0.85)
    code, output = cli("--quiet", "dedup", "--semantic", "--encoder", cfg.encoder, "--threshold", "0.85",
                       "--input", str(tmp_path / "part-*.parquet"), "--out", str(tmp_path / "out"))
    assert code == 0, output
    from codeflow.lake import StageOutput

    out = StageOutput(str(tmp_path / "out"))
    rejects = out.read_rejects().to_pylist()
    assert {r["reason"] for r in rejects} == {"semantic_duplicate"}
    assert out.read_kept().num_rows + len(rejects) == len(docs)
    keepers = {r["detail"].split()[0].removeprefix("keeper=") for r in rejects}
    clustered = {r["id"] for r in rejects} | keepers
    truth = cosine_pairs(docs, cfg)
    truth_docs = {d for p in truth for d in p}
    # every clustered doc really has a partner above the cosine threshold; most such docs are found
    precision, recall = precision_recall(clustered, truth_docs)
    print(f"semantic P={precision:.3f} R={recall:.3f} truth={len(truth_docs)}")
    assert precision == 1.0
    assert recall >= 0.85, recall


def test_hashing_encoder_is_deterministic_and_unit_norm():
    cfg = SemanticConfig(encoder="hashing:128")
    a = embed(["Hello world", "", "hello   WORLD"], cfg)
    assert a.shape == (3, 128)
    assert np.allclose(np.linalg.norm(a[[0, 2]], axis=1), 1.0) and not a[1].any()
    assert np.array_equal(a[0], a[2])  # case and whitespace do not matter to this encoder
    assert np.array_equal(a, embed(["Hello world", "", "hello   WORLD"], cfg))


def test_bad_encoder_specs_are_one_line_errors(tmp_path):
    with pytest.raises(EncoderError):
        load_encoder("no_such_module_xyz:encode")
    with pytest.raises(EncoderError):
        load_encoder(str(tmp_path / "missing-model-dir"))
    assert load_encoder("local_encoder:bag_of_words") is bag_of_words
