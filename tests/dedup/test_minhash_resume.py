"""A MinHash run killed mid-way (SIGKILL, no cleanup) resumes to the uninterrupted result, byte for byte."""

from __future__ import annotations

from planted import planted_corpus, write_units

from codeflow.dedup.minhash import MinHashConfig
from codeflow.dedup.minhash_run import NearDedup, run_near_dedup
from codeflow.plan import RunInfo
from codeflow.runner import ScratchJob
from tests.foundation.helpers import kill_when


def shard_bytes(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.parquet"))
            if "_work" not in p.parts}


def test_kill_and_resume_gives_the_uninterrupted_result(tmp_path):
    docs = planted_corpus(n_families=16, singles=20, seed=5)
    units = write_units(docs, tmp_path, n_units=8)
    cfg = MinHashConfig()
    whole = tmp_path / "whole"
    run_near_dedup(units, str(whole), cfg)
    expected = shard_bytes(whole)
    assert len(expected) == 16

    for name, ready in [
        ("signatures", lambda out: len(list((out / "_work" / "nd_docs").glob("part-*.parquet"))) >= 3),
        ("filter", lambda out: len(list((out / "_committed").glob("part-*.json"))) >= 2),
    ]:
        out = tmp_path / f"killed-{name}"
        killed = kill_when(["--quiet", "dedup", "--minhash", "--input", str(tmp_path / "part-*.parquet"),
                            "--out", str(out)], lambda out=out, ready=ready: ready(out))
        assert killed, f"the run finished before the {name} phase could be interrupted"
        assert not (out / "_SUCCESS").exists()
        summary = run_near_dedup(units, str(out), cfg)
        assert shard_bytes(out) == expected, name
        assert summary.rows_in == summary.kept + summary.rejected == len(docs)


def test_rerun_is_a_no_op_and_stale_scratch_of_another_config_is_not_reused(tmp_path):
    docs = planted_corpus(n_families=6, singles=6, seed=9)
    units = write_units(docs, tmp_path, n_units=2)
    out = tmp_path / "out"
    first = run_near_dedup(units, str(out), MinHashConfig(threshold=0.9))
    again = run_near_dedup(units, str(out), MinHashConfig(threshold=0.9))
    assert (again.shards_new, again.shards_resumed) == (0, 2) and again.rejected == first.rejected
    # a run killed after its signature phase leaves scratch behind; another config must not resume from it
    other = tmp_path / "other"
    stale = NearDedup(MinHashConfig(threshold=0.9, ngram=2)).plan()
    ScratchJob(stale.phases[0], RunInfo(str(other), tuple(units), stale.identity()))(0)
    assert (other / "_work" / "nd_docs" / "part-00000.parquet").exists()
    fresh = run_near_dedup(units, str(tmp_path / "fresh"), MinHashConfig(threshold=0.6))
    reused = run_near_dedup(units, str(other), MinHashConfig(threshold=0.6))
    assert shard_bytes(other) == shard_bytes(tmp_path / "fresh") and reused.rejected == fresh.rejected
