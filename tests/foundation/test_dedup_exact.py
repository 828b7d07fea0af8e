"""Exact dedup: accounting, keeper rule, bad input, and identical output on datatrove and Spark."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codeflow.dedup.exact import ExactDedupConfig
from codeflow.dedup.exact_run import run_exact_dedup
from codeflow.lake import StageOutput
from codeflow.sources import expand_inputs

from .helpers import write_corpus, write_jsonl


def _run(inp: Path, out: Path, engine: str = "local", workers: int = 2):
    return run_exact_dedup(expand_inputs([str(inp)]), str(out), ExactDedupConfig(), engine=engine, workers=workers)


def test_accounting_and_distinct_kept(tmp_path: Path) -> None:
    truth = write_corpus(tmp_path / "in", n_files=4, per_file=60, dup_rate=0.3)
    summary = _run(tmp_path / "in", tmp_path / "out")
    out = StageOutput(str(tmp_path / "out"))
    kept, rejects = out.read_kept(), out.read_rejects()
    assert summary.rows_in == truth["rows"] == kept.num_rows + rejects.num_rows
    assert kept.num_rows == truth["distinct"]
    assert set(rejects.column("reason").to_pylist()) == {"exact_duplicate"}
    # every reject names a keeper that was kept, and whose normalized text is the same
    kept_text = dict(zip(kept.column("id").to_pylist(), kept.column("text").to_pylist(), strict=True))
    for detail in rejects.column("detail").to_pylist():
        keeper = detail.split()[0].removeprefix("keeper=")
        assert keeper in kept_text
    assert len(set(kept.column("id").to_pylist())) == kept.num_rows
    assert out.is_complete()


def test_keeper_is_smallest_id_whatever_the_order(tmp_path: Path) -> None:
    rows = [{"id": "b", "text": "same"}, {"id": "a", "text": "same  \n"}, {"id": "c", "text": "same\r\n"}]
    write_jsonl(tmp_path / "one" / "x.jsonl", rows)
    write_jsonl(tmp_path / "two" / "x.jsonl", list(reversed(rows)))
    for name in ("one", "two"):
        _run(tmp_path / name, tmp_path / f"out-{name}", workers=1)
        kept = StageOutput(str(tmp_path / f"out-{name}")).read_kept()
        assert kept.column("id").to_pylist() == ["a"]
        rej = StageOutput(str(tmp_path / f"out-{name}")).read_rejects()
        assert sorted(rej.column("id").to_pylist()) == ["b", "c"]
        assert all(d.startswith("keeper=a group_size=3") for d in rej.column("detail").to_pylist())


def test_bad_input_is_rejected_and_the_rest_goes_on(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    write_corpus(inp, n_files=2, per_file=20, dup_rate=0.0)
    good = pq.read_table(inp / "shard-00.parquet")
    (inp / "truncated.parquet").write_bytes((inp / "shard-00.parquet").read_bytes()[:300])
    (inp / "not-parquet.parquet").write_text("this is not parquet\n")
    bad_rows = pa.table({"text": pa.array([b"fine text", None, b"\xff\xfe broken", b"more fine text"], pa.binary())})
    pq.write_table(bad_rows, inp / "bad-rows.parquet")
    summary = _run(inp, tmp_path / "out")
    out = StageOutput(str(tmp_path / "out"))
    kept, rejects = out.read_kept(), out.read_rejects()
    reasons = rejects.column("reason").to_pylist()
    assert reasons.count("unreadable_input") == 2
    assert reasons.count("null_text") == 1 and reasons.count("decode_error") == 1
    kept_text = set(kept.column("text").to_pylist())
    assert {"fine text", "more fine text"} <= kept_text
    assert set(good.column("text").to_pylist()) <= kept_text  # nothing good lost
    assert summary.rows_in == kept.num_rows + rejects.num_rows


def test_local_and_spark_write_identical_shards(tmp_path: Path, spark) -> None:
    write_corpus(tmp_path / "in", n_files=3, per_file=40, dup_rate=0.3, seed=3)
    _run(tmp_path / "in", tmp_path / "local", "local")
    _run(tmp_path / "in", tmp_path / "spark", "spark")
    for sub in ("", "rejects"):
        a, b = tmp_path / "local" / sub, tmp_path / "spark" / sub
        names = sorted(p.name for p in a.glob("part-*.parquet"))
        assert names == sorted(p.name for p in b.glob("part-*.parquet")) and names
        match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
        assert not mismatch and not errors


def test_empty_input_folder_is_a_usage_error(tmp_path: Path, cli) -> None:
    (tmp_path / "empty").mkdir()
    code, output = cli("dedup", "--exact", "--input", str(tmp_path / "empty"), "--out", str(tmp_path / "o"))
    assert code != 0 and output.strip().startswith("error:") and len(output.strip().splitlines()) == 1


@pytest.mark.parametrize("normalize,expected", [("none", 3), ("whitespace", 2), ("lower", 1)])
def test_normalization_modes(tmp_path: Path, normalize: str, expected: int) -> None:
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": "Hello"}, {"text": "Hello  \n"}, {"text": "hello"}])
    run_exact_dedup(expand_inputs([str(tmp_path / "in")]), str(tmp_path / "out"),
                    ExactDedupConfig(normalize=normalize), workers=1)
    assert StageOutput(str(tmp_path / "out")).read_kept().num_rows == expected
