"""Our near-dup dedup as datatrove pipeline steps: a drop-in for datatrove's four MinHash stages.

For teams whose pipelines are datatrove all the way: the same three phases as ``codeflow dedup --minhash``,
each a ``PipelineStep`` that works with any datatrove reader, writer and executor::

    LocalPipelineExecutor([reader, NearDedupSignature(work)], tasks=N).run()     # like MinhashDedupSignature
    LocalPipelineExecutor([NearDedupCluster(work)], tasks=1).run()              # replaces Buckets + Cluster
    LocalPipelineExecutor([reader, NearDedupFilter(work), writer], tasks=N).run()  # like MinhashDedupFilter

A document is named by ``(rank, index in the rank's stream)``, so the filter must read the same input with
the same task count, as datatrove's own filter must. The keeper rule reads ``quality_score`` / ``stars``
from ``doc.metadata`` (configurable), then the smallest ``doc.id``. Clustering is the bounded-memory duckdb
step, not a single-task in-memory union-find.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pyarrow as pa
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.disk_base import DiskWriter

from codeflow.dedup.exact import ValidatedBatch
from codeflow.dedup.exact_run import DECISIONS, read_decisions
from codeflow.dedup.minhash import MinHashConfig
from codeflow.dedup.minhash_run import BANDS, DOCS, SIGN_BATCH, NearDedup, sign_batch
from codeflow.engines.local import LocalEngine
from codeflow.plan import GlobalContext, RunInfo
from codeflow.records import rejects_table
from codeflow.runner import write_scratch


class NearDedupSignature(PipelineStep):
    """Phase 1: signatures and band keys of this rank's documents into ``work_folder``."""

    type = "🫂 - DEDUP"
    name = "🌊 codeflow near-dup signatures"

    def __init__(self, work_folder: str, config: MinHashConfig | None = None) -> None:
        super().__init__()
        self.work_folder = work_folder
        self.config = config or MinHashConfig()

    def _sign(self, docs: list, offset: int, rank: int) -> tuple[pa.Table, pa.Table]:
        cfg = self.config
        meta = [d.metadata or {} for d in docs]
        table = pa.table({"id": [str(d.id) for d in docs], "text": [d.text or "" for d in docs],
                          cfg.score_column: [m.get(cfg.score_column) for m in meta],
                          cfg.stars_column: [m.get(cfg.stars_column) for m in meta]})
        rows = pa.array(np.arange(offset, offset + len(docs), dtype=np.int64))
        return sign_batch(ValidatedBatch(table, rows, rejects_table([]), len(docs)), cfg, rank)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        info = RunInfo(self.work_folder, (), "")
        bands, docs, batch, seen = [], [], [], 0
        for doc in data or []:
            batch.append(doc)
            self.stat_update("documents")
            if len(batch) == SIGN_BATCH:
                b, d = self._sign(batch, seen, rank)
                bands.append(b)
                docs.append(d)
                seen, batch = seen + len(batch), []
        if batch or not docs:
            b, d = self._sign(batch, seen, rank)
            bands.append(b)
            docs.append(d)
        write_scratch(info.scratch(BANDS, f"part-{rank:05d}.parquet"), pa.concat_tables(bands))
        write_scratch(info.scratch(DOCS, f"part-{rank:05d}.parquet"), pa.concat_tables(docs))
        return
        yield


class NearDedupCluster(PipelineStep):
    """Phase 2 (run with ``tasks=1``): verified candidate edges, connected components, keepers."""

    type = "🫂 - DEDUP"
    name = "🌊 codeflow near-dup clustering"

    def __init__(self, work_folder: str, config: MinHashConfig | None = None) -> None:
        super().__init__()
        self.work_folder = work_folder
        self.config = config or MinHashConfig()

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if rank == 0:
            # The CLI stage's own global phase, on the embedded engine's duckdb.
            stats = NearDedup(self.config).cluster(GlobalContext(RunInfo(self.work_folder, (), ""), LocalEngine()))
            for key, value in stats.items():
                self.stat_update(key, value=value)
        return
        yield


class NearDedupFilter(PipelineStep):
    """Phase 3: drop this rank's non-keepers (to ``exclusion_writer`` if given, with the keeper id)."""

    type = "🫂 - DEDUP"
    name = "🌊 codeflow near-dup filter"

    def __init__(self, work_folder: str, exclusion_writer: DiskWriter | None = None) -> None:
        super().__init__()
        self.work_folder = work_folder
        self.exclusion_writer = exclusion_writer

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        decisions = read_decisions(RunInfo(self.work_folder, (), "").scratch(DECISIONS), rank)
        drop = dict(zip(decisions.column("row").to_pylist(),
                        zip(decisions.column("keeper_id").to_pylist(), decisions.column("group_size").to_pylist(),
                            strict=True), strict=True)) if decisions.num_rows else {}
        with self.exclusion_writer if self.exclusion_writer else contextlib.nullcontext() as writer:
            for index, doc in enumerate(data):
                if index in drop:
                    keeper, size = drop[index]
                    doc.metadata["near_dup_keeper_id"] = keeper
                    doc.metadata["near_dup_cluster_size"] = int(size)
                    self.stat_update("dropped")
                    if writer:
                        writer.write(doc, rank)
                    continue
                self.stat_update("forwarded")
                yield doc
