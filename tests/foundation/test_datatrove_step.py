"""Our stage cores drop into a user's own datatrove pipeline."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.writers import JsonlWriter

from codeflow.ingest import IngestConfig, IngestStage
from codeflow.pipelines.datatrove.steps import StageStep


def test_stage_step_in_datatrove_pipeline(tmp_path: Path) -> None:
    docs = [Document(text="kept one", id="1"), Document(text=None, id="2", metadata={"url": "u"}),
            Document(text="kept two", id="3")]
    collected: list[Document] = []

    def sink(data, rank: int = 0, world_size: int = 1):
        for d in data:
            collected.append(d)
            yield d

    step = StageStep(IngestStage(IngestConfig()), exclusion_writer=JsonlWriter(str(tmp_path / "removed")))
    LocalPipelineExecutor(pipeline=[docs, step, sink], tasks=1, workers=1,
                          logging_dir=str(tmp_path / "logs")).run()
    assert [d.id for d in collected] == ["1", "3"]
    removed = [json.loads(line) for p in (tmp_path / "removed").glob("*.jsonl*")
               for line in gzip.open(p, "rt") if line.strip()]
    assert [(r["id"], r["metadata"]["filter_reason"]) for r in removed] == [("2", "null_text")]
