"""Training both models on real labels, the model directory, ``eval``, and the label-file errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from codeflow.classifiers.labels import infer_task, read_labels, split
from codeflow.classifiers.modeldir import MODEL_JSON

from .conftest import tweets


def test_train_writes_both_models_card_and_report(tox_model: Path) -> None:
    meta = json.loads((tox_model / MODEL_JSON).read_text())
    assert {p.name for p in tox_model.iterdir()} == {MODEL_JSON, "proxy_head.npz", "fasttext.bin", "MODEL_CARD.md",
                                                      "report.html"}
    assert meta["task"]["kind"] == "binary" and meta["split"]["train"] + meta["split"]["test"] == 160
    for model in ("proxy", "fasttext"):
        m = meta["metrics"][model]
        assert m["n"] == meta["split"]["test"] and sum(map(sum, m["confusion"]["matrix"])) == m["n"]
        assert -1 <= m["spearman"] <= 1 and 0 <= m["macro_f1"] <= 1
        assert sum(b["n"] for b in m["calibration"]["bins"]) == m["n"]
    # one member per encoder layer, each the lowest-loss candidate of its layer on the training split
    sel, members = meta["proxy"]["selection"], meta["proxy"]["members"]
    assert [m["layer"] for m in members] == list(range(7)) and len(sel) == 7 * 2  # tweets: one prefix, +- length
    for m in members:
        best = min((c for c in sel if c["layer"] == m["layer"]), key=lambda c: c["cv_loss"])
        assert (best["max_chunks"], best["length_feature"], best["regularization"]) == (
            m["max_chunks"], m["length_feature"], m["regularization"])
    assert meta["chunking"]["max_chunks"] == meta["proxy"]["max_chunks"] == max(m["max_chunks"] for m in members)
    report = (tox_model / "report.html").read_text()
    assert "Proxy vs fastText" in report and "Confusion: fastText baseline" in report and "http" not in report
    assert "Held-out metrics" in (tox_model / "MODEL_CARD.md").read_text()


def test_eval_on_the_held_out_rows_reproduces_the_training_metrics(tox_model: Path, tox_labels: Path, tmp_path: Path,
                                                                   cli) -> None:
    """train and eval compute the same numbers: eval on exactly the test split gives model.json's metrics."""
    meta = json.loads((tox_model / MODEL_JSON).read_text())
    ls = read_labels(str(tox_labels), "text", "toxicity")
    task = infer_task(ls.labels)
    _, test_idx = split(ls.texts, task.bucket(ls.labels), seed=0, test_fraction=0.2)
    held = tmp_path / "held.jsonl"
    held.write_text("".join(json.dumps({"tweet": ls.texts[i], "tox": ls.labels[i]}) + "\n" for i in test_idx))
    code, output = cli("classifiers", "eval", "--model", str(tox_model), "--labels", str(held), "--text-column",
                       "tweet", "--label-column", "tox", "--json", str(tmp_path / "m.json"))
    assert code == 0, output
    got = json.loads((tmp_path / "m.json").read_text())
    for model in ("proxy", "fasttext"):
        for key in ("spearman", "macro_f1", "confusion", "at_threshold"):
            assert got[model][key] == meta["metrics"][model][key], (model, key)


def test_eval_on_unseen_tweets_and_split_is_stratified_and_seeded(tox_model: Path, tmp_path: Path, cli) -> None:
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({"text": r["tweet"], "label": r["toxicity"]}) + "\n"
                             for r in tweets(60, offset=1000)))
    code, output = cli("classifiers", "eval", "--model", str(tox_model), "--labels", str(other), "--json", "-")
    assert code == 0, output
    got = json.loads(output)
    assert got["rows"] == 60 and set(got) >= {"proxy", "fasttext"}
    assert all(isinstance(got[m]["macro_f1"], float) for m in ("proxy", "fasttext"))
    buckets = np.array([0] * 50 + [1] * 50)
    texts = [f"t{i}" for i in range(100)]
    tr, te = split(texts, buckets, seed=1)
    assert len(te) == 20 and sum(buckets[te]) == 10 and len(set(tr) | set(te)) == 100
    assert split(texts, buckets, seed=1)[1].tolist() == te.tolist() != split(texts, buckets, seed=2)[1].tolist()


def test_bad_label_files_and_model_dirs_are_one_line_errors(tox_model: Path, tox_labels: Path, tmp_path: Path,
                                                            cli) -> None:
    out = str(tmp_path / "m")
    code, output = cli("classifiers", "train", "--labels", str(tox_labels), "--dimension", "toxicity", "--out", out,
                       "--label-column", "nope")
    assert code == 2 and output.startswith("error: ") and "no column 'nope'" in output and "toxicity" in output
    one = tmp_path / "one.jsonl"
    one.write_text("".join(json.dumps({"text": f"doc {i}", "label": 1}) + "\n" for i in range(20)))
    code, output = cli("classifiers", "train", "--labels", str(one), "--dimension", "edu", "--out", out)
    assert code == 2 and "single class" in output, output
    assert not Path(out).exists()

    old = tmp_path / "old"
    old.mkdir()
    meta = json.loads((tox_model / MODEL_JSON).read_text())
    (old / MODEL_JSON).write_text(json.dumps({**meta, "format_version": 0}))
    code, output = cli("classifiers", "eval", "--model", str(old), "--labels", str(tox_labels), "--label-column",
                       "toxicity")
    assert code == 2 and "version 0" in output and "retrain" in output, output
    code, output = cli("classify", "--model", str(tmp_path), "--input", str(tox_labels), "--out", out)
    assert code == 2 and "not a quality model directory" in output, output

    # train refuses to write into a folder that is not a model directory
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "keep.txt").write_text("mine")
    code, output = cli("classifiers", "train", "--labels", str(tox_labels), "--label-column", "toxicity",
                       "--dimension", "toxicity", "--out", str(tmp_path / "data"))
    assert code == 2 and "refusing" in output and (tmp_path / "data" / "keep.txt").exists()


def test_long_texts_are_chunked_within_the_window_and_pooled(tox_model: Path) -> None:
    from codeflow.classifiers.encoder import Chunking, encoder

    enc = encoder("minilm", 1)
    long = " ".join(f"word{i} is followed by" for i in range(1500))  # ~ 9,000 word pieces
    chunking = Chunking(window=254, max_chunks=3)
    chunks = enc.chunks(long, chunking)
    assert len(chunks) == 3
    pos = 0
    for c in chunks:  # consecutive substrings of the text, each within the encoder's window
        at = long.index(c, pos)
        assert long[pos:at].strip() == "" and len(enc.tokenizer(c, add_special_tokens=False)["input_ids"]) <= 254
        pos = at + len(c)
    assert len(enc.chunks(long, Chunking(window=254, max_chunks=8))) == 8  # capped: the head of the text
    X = enc.embed([long, chunks[0], "", "  \n"], chunking)
    assert np.allclose(np.linalg.norm(X[:2], axis=1), 1.0) and not X[2:].any()  # empty texts embed to zeros
    assert not np.allclose(X[0], X[1])  # the pooled vector is not just the first window
