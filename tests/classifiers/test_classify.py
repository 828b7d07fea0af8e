"""``codeflow classify`` over lake shards: both engines byte-identical, keep rules, routing, resume, MinHash keeper."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codeflow.classifiers.classify import KeepRule, make_config, run_classify
from codeflow.classifiers.routing import domain_of, is_math
from codeflow.lake import StageOutput
from codeflow.records import CODE_FILE_SCHEMA, DOCUMENT_SCHEMA

from .conftest import tweets

MATH = ("Let $f(x) = x^2$. Then $\\frac{d}{dx} f(x) = 2x$ and \\int_0^1 f(x)\\,dx = \\frac{1}{3}, "
        "so the mean of $f$ on $[0, 1]$ is one third.")


def write_docs(folder: Path, n_units: int = 2) -> list[str]:
    rows = tweets(24, offset=2000)
    texts = [r["tweet"] for r in rows] + [MATH, "", "   "]
    ids = [f"doc{i:02d}" for i in range(len(texts))]
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(texts) // n_units)
    for u in range(n_units):
        sl = slice(u * size, (u + 1) * size)
        n = len(texts[sl])
        pq.write_table(pa.table({"id": ids[sl], "text": texts[sl], "source": ["t"] * n, "url": [None] * n,
                                 "language": ["en"] * n, "metadata": [None] * n}, schema=DOCUMENT_SCHEMA),
                       folder / f"part-{u:05d}.parquet")
    return texts


def shard_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


def test_both_engines_identical_keep_rules_and_accounting(tox_model: Path, tmp_path: Path, spark, cli) -> None:
    texts = write_docs(tmp_path / "docs", n_units=1)  # one unit: one Spark python worker loads the model
    args = ["--quiet", "classify", "--model", str(tox_model), "--input", str(tmp_path / "docs"),
            "--keep", "toxicity<0.5"]
    code, output = cli(*args, "--out", str(tmp_path / "local"))
    assert code == 0, output
    code, output = cli(*args, "--out", str(tmp_path / "spark"), "--engine", "spark")
    assert code == 0, output
    local, dist = shard_bytes(tmp_path / "local"), shard_bytes(tmp_path / "spark")
    assert local == dist and len(local) == 2  # kept + rejects
    assert (tmp_path / "local" / "_report.html").read_bytes() == (tmp_path / "spark" / "_report.html").read_bytes()

    out = StageOutput(str(tmp_path / "local"))
    kept, rejects = out.read_kept(), out.read_rejects().to_pylist()
    stats = json.loads((tmp_path / "local" / "_stats.json").read_text())
    assert stats["rows_in"] == len(texts) == kept.num_rows + len(rejects)
    by_reason = {r["id"]: r for r in rejects}
    assert by_reason["doc25"]["reason"] == by_reason["doc26"]["reason"] == "empty_text"
    toxic = [r for r in rejects if r["reason"] == "toxic"]
    assert toxic, "some of the real offensive tweets are rejected"
    for r in toxic:
        m = re.fullmatch(r"toxicity=(\d\.\d{4}) fails toxicity<0\.5", r["detail"])
        assert m and float(m.group(1)) >= 0.5
    quality = kept.column("quality").to_pylist()
    assert all(q["toxicity"] < 0.5 for q in quality)
    scores = kept.column("quality_score").to_pylist()
    assert all(s == pytest.approx(1 - q["toxicity"], abs=1e-4) for s, q in zip(scores, quality, strict=True))
    assert kept.schema.field("quality_score").metadata[b"doc"].startswith(b"Mean of the scored")

    # without rules everything non-empty is kept; with a stricter rule more is rejected
    loose = tmp_path / "loose"
    run_classify([str(tmp_path / "docs")], str(loose), make_config([str(tox_model)]))
    all_kept = StageOutput(str(loose)).read_kept()
    assert all_kept.num_rows == len(texts) - 2
    # the math document is routed to math and, with no math model, scored by the text model
    math_row = next(q for q, i in zip(all_kept.column("quality").to_pylist(), all_kept.column("id").to_pylist(),
                                      strict=True) if i == "doc24")
    assert math_row["domain"] == "math" and math_row["toxicity"] is not None


def test_resume_and_model_hash_in_the_config(tox_model: Path, tmp_path: Path, cli) -> None:
    write_docs(tmp_path / "docs")
    args = ["--quiet", "classify", "--model", str(tox_model), "--input", str(tmp_path / "docs"),
            "--out", str(tmp_path / "out")]
    assert cli(*args)[0] == 0
    before = shard_bytes(tmp_path / "out")
    code, output = cli(*args)
    assert code == 0 and "0/2" in output.replace(" ", ""), output  # both shards resumed, none recomputed
    assert shard_bytes(tmp_path / "out") == before
    # the same files in another folder are the same model; a changed file is another model (config hash)
    changed = tmp_path / "changed"
    changed.mkdir()
    for p in tox_model.iterdir():
        (changed / p.name).write_bytes(p.read_bytes())
    meta = json.loads((changed / "model.json").read_text())
    meta["task"]["threshold"] = 0.25
    (changed / "model.json").write_text(json.dumps(meta))
    code, output = cli(*[a if a != str(tox_model) else str(changed) for a in args])
    assert code == 2 and "config" in output, output


def test_keep_rules_parse_and_unknown_dimensions_are_errors(tox_model: Path, tmp_path: Path, cli) -> None:
    r = KeepRule.parse(" edu >= 3 ")
    assert (r.dimension, r.op, r.value, r.reason) == ("edu", ">=", 3.0, "low_quality:edu")
    assert r.passes(3) and not r.passes(2.99) and KeepRule.parse("toxicity<0.5").reason == "toxic"
    write_docs(tmp_path / "docs", 1)
    for rule, needle in (("edu>=3", "no model scores 'edu'"), ("toxicity=>1", "not DIMENSION OP NUMBER")):
        code, output = cli("classify", "--model", str(tox_model), "--input", str(tmp_path / "docs"),
                           "--out", str(tmp_path / "o"), "--keep", rule)
        assert code == 2 and needle in output, output


def test_code_records_are_routed_to_code_models_only(tox_model: Path, tmp_path: Path) -> None:
    """Code files with only a text model: kept, domain code, unscored (no rule applies)."""
    (tmp_path / "code").mkdir()
    n = 3
    rows = {f.name: [None] * n for f in CODE_FILE_SCHEMA}
    rows.update(id=["c0", "c1", "c2"], content=["def f():\n    return 1\n", "print('fuck you')\n", "x = 1\n"],
                language=["python"] * n, path=["a.py", "b.py", "c.py"])
    pq.write_table(pa.table(rows, schema=CODE_FILE_SCHEMA), tmp_path / "code" / "part-00000.parquet")
    summary = run_classify([str(tmp_path / "code")], str(tmp_path / "out"),
                           make_config([str(tox_model)], keep=["toxicity<0.5"]))
    kept = StageOutput(str(tmp_path / "out")).read_kept()
    assert summary.kept == 3 and summary.stats["unscored"] == 3 and summary.stats["domain_code"] == 3
    assert [q["domain"] for q in kept.column("quality").to_pylist()] == ["code"] * 3
    assert kept.column("quality_score").null_count == 3
    assert kept.schema.names[:len(CODE_FILE_SCHEMA)] == CODE_FILE_SCHEMA.names


def test_math_detection() -> None:
    assert is_math(MATH) and domain_of(MATH, False) == "math" and domain_of(MATH, True) == "code"
    assert not is_math("The ticket costs $5 and the hotel $120 a night.")
    assert not is_math("A long page. " * 500 + "$x$ and \\alpha and \\beta")  # too sparse
    assert is_math("We have ∑ a_i ≤ ∫ f ≤ √2 for all i.")


def test_minhash_keeps_the_higher_scored_copy(tox_model: Path, tmp_path: Path) -> None:
    """Two near-duplicate pages with different quality: whichever id order, MinHash keeps the better one."""
    from codeflow.dedup.minhash import MinHashConfig
    from codeflow.dedup.minhash_run import run_near_dedup

    base = " ".join(f"The executor reads shard number {i} of the lake, checks marker {i * 7} and commits it."
                    for i in range(40))
    clean = base + " Thanks for reading, have a nice day."
    nasty = base + " Shut up you stupid bitch, nobody asked you."
    keepers = set()
    for order in ((clean, nasty), (nasty, clean)):
        run_dir = tmp_path / f"run{len(keepers)}"
        (run_dir / "docs").mkdir(parents=True)
        pq.write_table(pa.table({"id": ["a", "b"], "text": list(order)}), run_dir / "docs" / "part-00000.parquet")
        run_classify([str(run_dir / "docs")], str(run_dir / "scored"), make_config([str(tox_model)]))
        scored = StageOutput(str(run_dir / "scored")).read_kept()
        score = dict(zip(scored.column("text").to_pylist(), scored.column("quality_score").to_pylist(), strict=True))
        assert score[clean] > score[nasty]
        run_near_dedup([str(run_dir / "scored" / "part-00000.parquet")], str(run_dir / "dedup"),
                       MinHashConfig(threshold=0.7))
        kept = StageOutput(str(run_dir / "dedup")).read_kept().column("text").to_pylist()
        assert kept == [clean]
        keepers.add(tuple(StageOutput(str(run_dir / "dedup")).read_kept().column("id").to_pylist()))
    assert keepers == {("a",), ("b",)}  # the id order alone would have kept "a" both times


def test_models_sharing_an_encoder_score_as_alone_and_max_chunks_caps_the_windows(tox_model: Path,
                                                                                  tmp_path: Path) -> None:
    """Two proxies on one encoder share its pass (same scores as each model alone); --max-chunks reads the head."""
    from codeflow.classifiers.encoder import Chunking, encoder
    from codeflow.classifiers.modeldir import QualityModel

    twin = tmp_path / "twin"  # the same weights under another dimension name
    twin.mkdir()
    for p in tox_model.iterdir():
        (twin / p.name).write_bytes(p.read_bytes())
    meta = json.loads((twin / "model.json").read_text())
    (twin / "model.json").write_text(json.dumps({**meta, "dimension": "offensive"}))
    long = " ".join(f"Shard {i} of the lake is read, checked and committed by the executor." for i in range(120))
    long += " You are a stupid bitch."  # in the third window
    texts = [r["tweet"] for r in tweets(6, offset=500)] + [long]
    (tmp_path / "docs").mkdir()
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts}),
                   tmp_path / "docs" / "part-00000.parquet")
    model = QualityModel.load(str(tox_model))
    assert model.chunking.max_chunks == 8  # trained on tweets: no text told the prefixes apart
    alone = model.score(texts)[0]
    head_only = model.head.predict(encoder("minilm").embed_chunks(texts, Chunking(model.chunking.window, 1)), texts,
                                   model.task)[0]
    assert abs(head_only[-1] - alone[-1]) > 1e-3  # the long text's later windows move its score
    for max_chunks, expected in ((None, alone), (1, head_only)):
        out = tmp_path / f"out{max_chunks}"
        run_classify([str(tmp_path / "docs")], str(out), make_config([str(tox_model), str(twin)],
                                                                     max_chunks=max_chunks))
        quality = StageOutput(str(out)).read_kept().column("quality").to_pylist()
        assert [q["toxicity"] for q in quality] == [q["offensive"] for q in quality]
        assert [q["toxicity"] for q in quality] == pytest.approx(expected.tolist(), abs=1.5e-4)
        assert expected[:-1].tolist() == pytest.approx(alone[:-1].tolist(), abs=1e-6)  # one window: no change
