"""The run machinery's faults of issue 12, each reproduced as a user would hit it (all failed before the fix)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from codeflow.dedup.exact import ExactDedupConfig
from codeflow.dedup.exact_run import run_exact_dedup
from codeflow.dedup.minhash import MinHashConfig
from codeflow.dedup.minhash_run import run_near_dedup
from codeflow.dedup.semantic import SemanticConfig
from codeflow.lake import StageOutput
from codeflow.records import DOCUMENT_SCHEMA, rejects_table
from codeflow.sources import expand_inputs
from tests.foundation.helpers import kill_when

from .helpers import write_jsonl


def test_scratch_of_a_killed_run_is_not_reused_under_another_config(tmp_path: Path) -> None:
    """Kill a ``--normalize whitespace`` run in its keys phase, resume with ``--normalize lower``: the output must
    be the one of a clean ``lower`` run, not one built from the old keys."""
    n = 40
    for i in range(n):
        write_jsonl(tmp_path / "in" / f"u{i:03d}.jsonl", [{"text": f"Hello {i}"}, {"text": f"hello {i}"}])
    units = expand_inputs([str(tmp_path / "in")])
    out = tmp_path / "out"
    keys = out / "_work" / "keys"
    killed = kill_when(["--quiet", "dedup", "--exact", "--normalize", "whitespace", "--input",
                         str(tmp_path / "in"), "--out", str(out)],
                        lambda: keys.exists() and len(list(keys.glob("part-*.parquet"))) >= 3)
    assert killed, "the run finished before its keys phase could be interrupted"
    resumed = run_exact_dedup(units, str(out), ExactDedupConfig(normalize="lower"))
    assert resumed.rejected == n  # "Hello i" and "hello i" are one text under --normalize lower
    fresh = run_exact_dedup(units, str(tmp_path / "fresh"), ExactDedupConfig(normalize="lower"))
    assert StageOutput(str(out)).read_kept().equals(StageOutput(str(tmp_path / "fresh")).read_kept())
    assert fresh.rejected == n


def test_overwrite_refuses_a_folder_codeflow_did_not_write(tmp_path: Path, cli) -> None:
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": "x"}])
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    code, output = cli("dedup", "--exact", "--input", str(tmp_path / "in"), "--out", str(precious), "--overwrite")
    assert code != 0 and "refusing to delete" in output
    assert (precious / "thesis.tex").read_text() == "years of work"
    # a codeflow output (even a half-written one) is still replaced by --overwrite
    out = tmp_path / "out"
    assert cli("dedup", "--exact", "--input", str(tmp_path / "in"), "--out", str(out))[0] == 0
    (out / "stray.parquet").write_bytes(b"")
    assert cli("dedup", "--exact", "--input", str(tmp_path / "in"), "--out", str(out), "--overwrite")[0] == 0
    assert not (out / "stray.parquet").exists() and (out / "_SUCCESS").exists()


def test_demo_fresh_refuses_a_lake_that_is_not_codeflows(tmp_path: Path, cli) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "notes.txt").write_text("mine")
    code, output = cli("demo", "--lake", str(lake), "--fresh")
    assert code != 0 and "refusing to delete" in output and (lake / "notes.txt").exists()


def test_success_is_written_only_when_every_unit_committed(tmp_path: Path) -> None:
    out = StageOutput(str(tmp_path / "o"))
    out.commit_shard(0, DOCUMENT_SCHEMA.empty_table(), rejects_table([]), {}, "u0", "h")
    with pytest.raises(Exception, match="not committed"):
        out.finalize("ingest", 2, DOCUMENT_SCHEMA, {}, {})
    assert not out.is_complete()


class FlakyFS(MemoryFileSystem):
    """An object store that throttles: opening a file for reading fails ``failures[path]`` times first."""

    protocol = "flaky"
    store: dict = {}
    pseudo_dirs = [""]
    failures: dict[str, int] = {}

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(path.removeprefix("flaky://"))

    def _open(self, path, mode="rb", **kwargs):
        path = self._strip_protocol(path)
        if "r" in mode and FlakyFS.failures.get(path, 0) > 0:
            FlakyFS.failures[path] -= 1
            raise ConnectionResetError(f"503 SlowDown: {path}")
        return super()._open(path, mode, **kwargs)


@pytest.fixture
def flaky(monkeypatch):
    import fsspec

    fsspec.register_implementation("flaky", FlakyFS, clobber=True)
    FlakyFS.store.clear()
    FlakyFS.failures.clear()
    monkeypatch.setenv("CODEFLOW_IO_BACKOFF", "0")
    fs = FlakyFS()
    for i in range(3):
        with fs.open(f"/in/u{i}.jsonl", "wb") as f:
            f.write("".join(json.dumps({"id": f"{i}-{j}", "text": f"doc {i} {j}"}) + "\n" for j in range(4)).encode())
    return fs


def test_a_throttled_read_is_retried_not_rejected(tmp_path: Path, flaky) -> None:
    FlakyFS.failures["/in/u1.jsonl"] = 2  # fewer than the retries
    units = expand_inputs(["flaky:///in"])
    summary = run_exact_dedup(units, str(tmp_path / "out"))
    assert summary.reasons == {} and summary.kept == 12


def test_a_unit_that_keeps_failing_stays_uncommitted_and_a_rerun_retries_it(tmp_path: Path, flaky, cli) -> None:
    FlakyFS.failures["/in/u1.jsonl"] = 10**6
    out = tmp_path / "out"
    code, output = cli("--quiet", "ingest", "--input", "flaky:///in", "--out", str(out))
    assert code != 0 and "1 of 3 units failed" in output and "503 SlowDown" in output
    assert not (out / "_SUCCESS").exists()
    assert sorted(p.name for p in (out / "_committed").glob("*.json")) == ["part-00000.json", "part-00002.json"]
    FlakyFS.failures.clear()  # the store recovers
    code, output = cli("--quiet", "ingest", "--input", "flaky:///in", "--out", str(out))
    assert code == 0 and (out / "_SUCCESS").exists()
    assert StageOutput(str(out)).read_kept().num_rows == 12 and StageOutput(str(out)).read_rejects().num_rows == 0


def test_ids_do_not_depend_on_the_other_inputs_of_the_run(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a" / "x.jsonl", [{"text": "one"}, {"text": "two"}])
    write_jsonl(tmp_path / "b" / "deep" / "y.jsonl", [{"text": "three"}])
    alone = run_exact_dedup(expand_inputs([str(tmp_path / "a")]), str(tmp_path / "o1"))
    both = run_exact_dedup(expand_inputs([str(tmp_path / "a"), str(tmp_path / "b")]), str(tmp_path / "o2"))
    assert (alone.kept, both.kept) == (2, 3)
    ids_alone = set(StageOutput(str(tmp_path / "o1")).read_kept().column("id").to_pylist())
    ids_both = set(StageOutput(str(tmp_path / "o2")).read_kept().column("id").to_pylist())
    assert ids_alone < ids_both
    # ingest follows the same rule
    from codeflow.ingest import IngestConfig, IngestStage
    from codeflow.runner import run_map_stage
    from codeflow.sources import TableSource

    run_map_stage(IngestStage(IngestConfig()), TableSource(), expand_inputs([str(tmp_path / "a")]),
                  str(tmp_path / "o3"))
    assert set(StageOutput(str(tmp_path / "o3")).read_kept().column("id").to_pylist()) == ids_alone


@pytest.mark.parametrize("cfg,stage", [(MinHashConfig(), "dedup_minhash"), (SemanticConfig(), "dedup_semantic")])
def test_near_dedup_labels_its_own_rejects(tmp_path: Path, cfg, stage: str) -> None:
    pq.write_table(pa.table({"text": pa.array([b"fine text here", None, b"\xff\xfe broken"], pa.binary())}),
                   tmp_path / "bad.parquet")
    run_near_dedup([str(tmp_path / "bad.parquet")], str(tmp_path / "out"), cfg)
    rejects = StageOutput(str(tmp_path / "out")).read_rejects()
    assert sorted(rejects.column("reason").to_pylist()) == ["decode_error", "null_text"]
    assert set(rejects.column("stage").to_pylist()) == {stage}


def test_paths_with_quotes_and_memory_limits_are_sql_values_not_sql(tmp_path: Path) -> None:
    folder = tmp_path / "it's here"
    write_jsonl(folder / "in" / "a.jsonl", [{"text": "same"}, {"text": "same"}, {"text": "other"}])
    units = expand_inputs([str(folder / "in")])
    assert run_exact_dedup(units, str(folder / "exact")).rejected == 1
    assert run_near_dedup(units, str(folder / "near")).rejected == 1
    with pytest.raises(Exception, match="memory limit"):
        run_exact_dedup(units, str(tmp_path / "x"), ExactDedupConfig(memory_limit="1GB'; SELECT 1; --"))
