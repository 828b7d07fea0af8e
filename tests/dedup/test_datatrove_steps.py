"""The datatrove steps (signature -> cluster -> filter) remove exactly what ``codeflow dedup --minhash`` does."""

from __future__ import annotations

import json

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.writers import JsonlWriter
from planted import planted_corpus, write_units

from codeflow.dedup.minhash import MinHashConfig
from codeflow.dedup.minhash_run import run_near_dedup
from codeflow.lake import StageOutput
from codeflow.pipelines.datatrove.dedup import NearDedupCluster, NearDedupFilter, NearDedupSignature


def read_jsonl(folder) -> list[dict]:
    return [json.loads(line) for p in sorted(folder.glob("*.jsonl")) for line in p.read_text().splitlines()]


def test_datatrove_steps_match_the_cli_stage(tmp_path):
    docs = planted_corpus(n_families=10, singles=10, seed=21)
    (tmp_path / "in").mkdir()
    write_units(docs, tmp_path / "in", n_units=2)
    cfg = MinHashConfig()
    work = str(tmp_path / "work")

    def reader():
        return ParquetReader(str(tmp_path / "in"), glob_pattern="*.parquet", text_key="text", id_key="id")

    logs = str(tmp_path / "logs")
    LocalPipelineExecutor([reader(), NearDedupSignature(work, cfg)], tasks=2, logging_dir=f"{logs}/1").run()
    LocalPipelineExecutor([NearDedupCluster(work, cfg)], tasks=1, logging_dir=f"{logs}/2").run()
    LocalPipelineExecutor([reader(), NearDedupFilter(work, JsonlWriter(str(tmp_path / "removed"), compression=None)),
                           JsonlWriter(str(tmp_path / "kept"), compression=None)], tasks=2,
                          logging_dir=f"{logs}/3").run()
    removed = {d["id"]: d["metadata"]["near_dup_keeper_id"] for d in read_jsonl(tmp_path / "removed")}
    kept = {d["id"] for d in read_jsonl(tmp_path / "kept")}

    units = sorted(str(p) for p in (tmp_path / "in").glob("*.parquet"))
    run_near_dedup(units, str(tmp_path / "cli"), cfg)
    rejects = StageOutput(str(tmp_path / "cli")).read_rejects().to_pylist()
    expected = {r["id"]: r["detail"].split()[0].removeprefix("keeper=") for r in rejects}
    assert len(removed) > 5 and removed == expected
    assert len(kept) + len(removed) == len(docs)
