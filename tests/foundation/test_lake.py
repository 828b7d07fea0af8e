"""Lake: atomic commits, manifest content, and shards readable by pyarrow and duckdb under our schema."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codeflow.ingest import IngestConfig, IngestStage
from codeflow.lake import LakeError, StageOutput, atomic_write_bytes, to_fs
from codeflow.records import DOCUMENT_SCHEMA, REJECT_SCHEMA, field_docs, stable_id
from codeflow.runner import run_map_stage
from codeflow.sources import TableSource, expand_inputs

from .helpers import write_corpus


def test_stable_id_is_stable_and_unambiguous() -> None:
    assert stable_id("ab", "c") == stable_id("ab", "c")
    assert stable_id("ab", "c") != stable_id("a", "bc")
    assert stable_id(None) != stable_id("")


def test_atomic_write_leaves_old_or_new(tmp_path: Path) -> None:
    fs, root = to_fs(str(tmp_path))
    target = f"{root}/f.bin"
    atomic_write_bytes(fs, target, b"old")

    class Boom(Exception):
        pass

    original = fs.mv

    def failing_mv(*a, **k):
        raise Boom

    fs.mv = failing_mv
    with pytest.raises(Boom):
        atomic_write_bytes(fs, target, b"new")
    fs.mv = original
    assert Path(target).read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # temp file cleaned


def test_ingest_shards_manifest_and_readers(tmp_path: Path) -> None:
    write_corpus(tmp_path / "in", n_files=2, per_file=25, dup_rate=0.0)
    units = expand_inputs([str(tmp_path / "in")])
    summary = run_map_stage(IngestStage(IngestConfig()), TableSource(), units, str(tmp_path / "docs"), workers=2)
    assert summary.kept == 50 and summary.rejected == 0
    manifest = json.loads((tmp_path / "docs" / "_manifest.json").read_text())
    assert manifest["stage"] == "ingest" and manifest["n_shards"] == 2
    assert [s["rows"] for s in manifest["shards"]] == [25, 25]
    assert {f["name"] for f in manifest["schema"]} == set(DOCUMENT_SCHEMA.names)
    assert all(f["doc"] for f in manifest["schema"])
    assert (tmp_path / "docs" / "_SUCCESS").exists()

    table = pq.read_table(tmp_path / "docs" / "part-00000.parquet")
    assert table.schema.equals(DOCUMENT_SCHEMA, check_metadata=False)
    assert table.schema.field("text").metadata[b"doc"] == field_docs(DOCUMENT_SCHEMA)["text"].encode()
    rej = pq.read_table(tmp_path / "docs" / "rejects" / "part-00000.parquet")
    assert rej.schema.equals(REJECT_SCHEMA, check_metadata=False)

    n, distinct_ids = duckdb.sql(
        f"select count(*), count(distinct id) from read_parquet('{tmp_path}/docs/part-*.parquet')").fetchall()[0]
    assert n == distinct_ids == 50
    dtypes = {row[0]: row[1] for row in duckdb.sql(f"describe select * from '{tmp_path}/docs/part-00000.parquet'")
              .fetchall()}
    assert dtypes["text"] == "VARCHAR" and dtypes["id"] == "VARCHAR"


def test_rerun_is_byte_identical_and_resumes(tmp_path: Path) -> None:
    write_corpus(tmp_path / "in", n_files=2, per_file=10, dup_rate=0.0)
    units = expand_inputs([str(tmp_path / "in")])
    stage = IngestStage(IngestConfig())
    run_map_stage(stage, TableSource(), units, str(tmp_path / "a"))
    run_map_stage(stage, TableSource(), units, str(tmp_path / "b"))
    for i in range(2):
        assert (tmp_path / "a" / f"part-0000{i}.parquet").read_bytes() == \
            (tmp_path / "b" / f"part-0000{i}.parquet").read_bytes()
    again = run_map_stage(stage, TableSource(), units, str(tmp_path / "a"))
    assert again.shards_resumed == 2 and again.kept == 20


def test_other_config_is_not_resumed_into(tmp_path: Path) -> None:
    write_corpus(tmp_path / "in", n_files=1, per_file=5, dup_rate=0.0)
    units = expand_inputs([str(tmp_path / "in")])
    run_map_stage(IngestStage(IngestConfig()), TableSource(), units, str(tmp_path / "o"))
    with pytest.raises(LakeError):
        run_map_stage(IngestStage(IngestConfig(text_column="text")), TableSource(), units, str(tmp_path / "o"))
    s = run_map_stage(IngestStage(IngestConfig(text_column="text")), TableSource(), units, str(tmp_path / "o"),
                      overwrite=True)
    assert s.kept == 5


def test_memory_filesystem_url(tmp_path: Path) -> None:
    """Any fsspec URL works as an output (here the in-memory filesystem)."""
    write_corpus(tmp_path / "in", n_files=1, per_file=5, dup_rate=0.0)
    units = expand_inputs([str(tmp_path / "in")])
    s = run_map_stage(IngestStage(IngestConfig()), TableSource(), units, "memory://lake/ingest/run1")
    out = StageOutput("memory://lake/ingest/run1")
    assert s.kept == 5 and out.is_complete() and out.read_kept().num_rows == 5
    assert isinstance(out.read_kept(), pa.Table)


def test_other_input_list_is_not_resumed_into(tmp_path: Path) -> None:
    """A committed shard is skipped on resume, so it must belong to the same unit: otherwise refuse."""
    write_corpus(tmp_path / "a", n_files=2, per_file=5, dup_rate=0.0, seed=1)
    write_corpus(tmp_path / "b", n_files=2, per_file=5, dup_rate=0.0, seed=2)
    stage = IngestStage(IngestConfig())
    run_map_stage(stage, TableSource(), expand_inputs([str(tmp_path / "a")]), str(tmp_path / "o"))
    with pytest.raises(LakeError, match="another input"):
        run_map_stage(stage, TableSource(), expand_inputs([str(tmp_path / "b")]), str(tmp_path / "o"))
    with pytest.raises(LakeError, match="another input"):  # fewer units than shards also refuses
        run_map_stage(stage, TableSource(), expand_inputs([str(tmp_path / "a" / "shard-01.parquet")]),
                      str(tmp_path / "o"))
