"""Use any codeflow map stage as a step inside your own datatrove pipeline.

``StageStep`` turns datatrove ``Document``s into an Arrow batch (``text``, ``id`` and the metadata keys as
columns), runs the stage core, and yields the kept rows back as ``Document``s. Rejects go to an optional
``exclusion_writer`` (like datatrove's ``BaseFilter``) with ``metadata["filter_reason"]``, and every reason is
counted in datatrove's stats as ``dropped_<reason>``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.disk_base import DiskWriter

from codeflow.stage import Stage


def documents_to_table(docs: list[Document]) -> pa.Table:
    rows = [{**(d.metadata or {}), "id": d.id, "text": d.text} for d in docs]
    return pa.Table.from_pylist(rows)


def table_to_documents(table: pa.Table, text_column: str = "text") -> Iterator[Document]:
    col = text_column if text_column in table.column_names else "content"
    for row in table.to_pylist():
        text = row.pop(col)
        doc_id = row.pop("id")
        yield Document(text=text, id=doc_id, metadata={k: v for k, v in row.items() if v is not None})


class StageStep(PipelineStep):
    """Wrap a codeflow ``Stage`` as a datatrove step; processes documents in batches of ``batch_size``."""

    type = "🌊 CODEFLOW"

    def __init__(self, stage: Stage, exclusion_writer: DiskWriter | None = None, batch_size: int = 1000) -> None:
        super().__init__()
        self.stage = stage
        self.name = stage.name
        self.exclusion_writer = exclusion_writer
        self.batch_size = batch_size

    def _flush(self, batch: list[Document], rank: int, writer) -> Iterator[Document]:
        with self.track_time("batch"):
            result = self.stage.process(documents_to_table(batch), f"datatrove-rank-{rank}")
        by_id = {d.id: d for d in batch}
        for rej in result.rejects.to_pylist():
            self.stat_update(f"dropped_{rej['reason']}")
            if writer is not None and rej["id"] in by_id:
                doc = by_id[rej["id"]]
                doc.metadata["filter_reason"] = rej["reason"]
                doc.text = doc.text if isinstance(doc.text, str) else ""  # writers measure len(text)
                writer.write(doc, rank)
        for doc in table_to_documents(result.kept):
            self.stat_update("forwarded")
            yield doc

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        writer = self.exclusion_writer.__enter__() if self.exclusion_writer else None
        try:
            batch: list[Document] = []
            for doc in data or []:
                self.stat_update("total")
                batch.append(doc)
                if len(batch) >= self.batch_size:
                    yield from self._flush(batch, rank, writer)
                    batch = []
            if batch:
                yield from self._flush(batch, rank, writer)
        finally:
            if writer is not None:
                writer.__exit__(None, None, None)
