"""MinHash dedup end to end on the local engine: quality against exact Jaccard, accounting, keeper rule."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
from planted import dup_docs, planted_corpus, precision_recall, predicted_pairs, true_pairs, write_units

from codeflow.dedup.minhash import MinHashConfig
from codeflow.dedup.minhash_run import run_near_dedup
from codeflow.lake import StageOutput

DETAIL = re.compile(r"keeper=(\S+) group_size=(\d+)")


def reject_pairs(out: StageOutput) -> list[tuple[str, str, int]]:
    rej = out.read_rejects().to_pylist()
    return [(r["id"], *DETAIL.fullmatch(r["detail"]).groups()) for r in rej if r["reason"] == "near_duplicate"]


def test_planted_near_dups_precision_recall_and_accounting(tmp_path, cli):
    docs = planted_corpus()
    units = write_units(docs, tmp_path)
    code, output = cli("--quiet", "dedup", "--minhash", "--input", str(tmp_path / "part-*.parquet"),
                       "--out", str(tmp_path / "out"), "--threshold", "0.8")
    assert code == 0, output
    out = StageOutput(str(tmp_path / "out"))
    stats = json.loads((tmp_path / "out" / "_stats.json").read_text())
    kept = out.read_kept()
    rejected = reject_pairs(out)
    assert stats["rows_in"] == len(docs) == kept.num_rows + len(rejected)
    assert stats["rejected_by_reason"] == {"near_duplicate": len(rejected)}
    assert len(units) == len(list((tmp_path / "out").glob("part-*.parquet")))

    truth = true_pairs(docs, 0.8)
    pred = predicted_pairs([(rid, keeper) for rid, keeper, _ in rejected])
    precision, recall = precision_recall(pred, truth)
    doc_p, doc_r = precision_recall(dup_docs(pred), dup_docs(truth))
    assert len(truth) > 40  # the corpus does plant pairs on both sides of the threshold
    print(f"pairs P={precision:.3f} R={recall:.3f}; docs P={doc_p:.3f} R={doc_r:.3f}")
    assert doc_p >= 0.95 and doc_r >= 0.85, (doc_p, doc_r)
    assert precision >= 0.8 and recall >= 0.8, (precision, recall)
    # group_size is the cluster size: every member of a cluster reports the same keeper and size.
    sizes: dict[str, set[int]] = {}
    for _, keeper, size in rejected:
        sizes.setdefault(keeper, set()).add(int(size))
    for keeper, s in sizes.items():
        assert s == {1 + sum(1 for _, k, _ in rejected if k == keeper)}
    report = (tmp_path / "out" / "_report.html").read_text()
    assert "Clusters by size" in report and "P(candidate) for 14 bands x 8 rows" in report
    # kept ids and rejected ids partition the input ids
    ids = set(kept.column("id").to_pylist()) | {r[0] for r in rejected}
    assert len(ids) == len(docs)


def test_keeper_rule_score_then_stars_then_id(tmp_path):
    base = " ".join(f"token{i}" for i in range(60))
    rows = {"id": ["c", "a", "b", "d", "e", "f"],
            "text": [base, base + " x", base + " y", "other " + base[:200], base, "z " + base],
            "stars": [5, 9, 9, None, 1, 2],
            "quality_score": [None, 0.5, 0.5, None, float("nan"), None]}
    pq.write_table(pa.table(rows), tmp_path / "in.parquet")
    out_url = str(tmp_path / "out")
    run_near_dedup([str(tmp_path / "in.parquet")], out_url, MinHashConfig(threshold=0.7), overwrite=True)
    out = StageOutput(out_url)
    rejected = reject_pairs(out)
    keepers = {k for _, k, _ in rejected}
    # a and b tie on score 0.5 and stars 9: the smaller id wins; NaN score counts as missing
    assert keepers == {"a"}, rejected
    assert sorted(out.read_kept().column("id").to_pylist()) == ["a", "d"]
    assert {int(s) for _, _, s in rejected} == {5}


def test_empty_one_token_and_bad_rows_do_not_crash(tmp_path):
    pq.write_table(pa.table({"text": ["", "one", None, "one", "a b c d e f g h", "a b c d e f g h"]}),
                   tmp_path / "in.parquet")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    summary = run_near_dedup([str(tmp_path / "in.parquet"), str(tmp_path / "broken.parquet")],
                             str(tmp_path / "out"), MinHashConfig())
    assert summary.reasons == {"null_text": 1, "unreadable_input": 1, "near_duplicate": 2}
    assert summary.kept == 3  # "", one "one", one "a b c ..." (the one-token docs are near-dups)
    assert summary.rows_in == summary.kept + summary.rejected


def test_code_content_uses_code_tokens(tmp_path):
    body = "\n".join(f"    total_{i} = compute(values[{i}], scale={i}) + offset_{i}" for i in range(30))
    original = f"def aggregate(values, offset):\n{body}\n    return total_0\n"
    reformatted = original.replace(" = ", "=").replace(", ", ",").replace("\n", "\n\n")
    case_changed = original.replace("compute", "COMPUTE").replace("values", "VALUES")
    other = "\n".join(f"class Widget{i}:\n    size = {i}\n    color = 'red'" for i in range(20))
    pq.write_table(pa.table({"id": ["a", "b", "c", "d"], "content": [original, reformatted, case_changed, other]}),
                   tmp_path / "code.parquet")
    summary = run_near_dedup([str(tmp_path / "code.parquet")], str(tmp_path / "out"), MinHashConfig())
    rejected = {r[0]: r[1] for r in reject_pairs(StageOutput(str(tmp_path / "out")))}
    # whitespace does not change code tokens; identifier case does (code tokens are case-preserving)
    assert rejected == {"b": "a"}, rejected
    assert summary.kept == 3
