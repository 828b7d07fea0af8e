"""Near-duplicate dedup as a phased plan (MinHash, or semantic with the same phases); ``codeflow.runner`` runs it.

1. ``signatures`` (MapPhase): validate rows exactly like exact dedup (same ids, same rejects), compute
   signatures and band keys: scratch tables ``nd_bands`` (band, bkey, uid) and ``nd_docs`` (uid, id, unit, rowno,
   score, stars, sig); the runner's per-unit phase marker makes a killed run redo only the missing units.
2. ``cluster`` (GlobalPhase): candidate edges, verification, connected components and keepers in the shared SQL
   of ``codeflow.dedup.components``, on the engine's dialect (duckdb with bounded memory, or Spark SQL);
   decisions go to ``_work/decisions/unit=N/`` in exact dedup's format (``row, id, keeper_id, group_size`` with
   the cluster size as group size).
3. filter (CommitPhase): exact dedup's filter with stage ``dedup_minhash`` / reason ``near_duplicate``
   (``dedup_semantic`` / ``semantic_duplicate``) commits kept rows and rejects.

``uid = unit << 32 | row`` names a document in the global phase: an integer both engines order alike.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codeflow.dedup.components import cluster
from codeflow.dedup.exact import ValidatedBatch, pick_text_column
from codeflow.dedup.exact_run import DECISIONS, DedupStage, mark_decisions_done
from codeflow.dedup.minhash import STAGE as MINHASH_STAGE
from codeflow.dedup.minhash import MinHashConfig, resolve_tokenizer, sign_texts
from codeflow.dedup.semantic import STAGE as SEMANTIC_STAGE
from codeflow.dedup.semantic import SemanticConfig, semantic_sign
from codeflow.engines import Engine, check_memory_limit
from codeflow.plan import CommitPhase, GlobalContext, GlobalPhase, MapPhase, Output, Plan, UnitContext
from codeflow.runner import RunSummary, run_plan
from codeflow.stage import config_dict

NearConfig = MinHashConfig | SemanticConfig
SIGN_BATCH = 8192
BANDS_SCHEMA = pa.schema([("band", pa.int32()), ("bkey", pa.int64()), ("uid", pa.int64())])
BANDS, DOCS = "nd_bands", "nd_docs"  # scratch tables of the signature phase
DOCS_SCHEMA = pa.schema([("uid", pa.int64()), ("id", pa.string()), ("unit", pa.int32()), ("rowno", pa.int64()),
                         ("score", pa.float64()), ("stars", pa.float64()), ("sig", pa.list_(pa.int64()))])


def stage_of(cfg: NearConfig) -> tuple[str, str]:
    """(stage name, reject reason) for a config."""
    if isinstance(cfg, SemanticConfig):
        return SEMANTIC_STAGE, "semantic_duplicate"
    return MINHASH_STAGE, "near_duplicate"


def _numeric(table: pa.Table, column: str) -> pa.Array:
    """A ranking column as float64; missing, non-numeric and NaN values become null (ranked last)."""
    n = table.num_rows
    if column not in table.column_names:
        return pa.nulls(n, pa.float64())
    try:
        values = pc.cast(table.column(column).combine_chunks(), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(n, pa.float64())
    return pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values)


def sign_batch(batch: ValidatedBatch, cfg: NearConfig, unit_index: int) -> tuple[pa.Table, pa.Table]:
    """Band rows and doc rows (only documents that have band keys) for one validated unit."""
    table = batch.table
    col = pick_text_column(table, cfg.text_column)
    if col is None or table.num_rows == 0:
        return BANDS_SCHEMA.empty_table(), DOCS_SCHEMA.empty_table()
    texts = table.column(col).combine_chunks()
    parts = []
    for lo in range(0, len(texts), SIGN_BATCH):  # bounded memory for the flat token arrays of a big unit
        chunk = texts.slice(lo, SIGN_BATCH)
        if isinstance(cfg, SemanticConfig):
            parts.append(semantic_sign(chunk.to_pylist(), cfg))
        else:
            signed = sign_texts(chunk, cfg, resolve_tokenizer(cfg.tokenizer, col))
            parts.append((signed.sig.view(np.int64), signed.keys, signed.n_shingles > 0))
    sig, keys, has = (np.concatenate([p[i] for p in parts]) for i in range(3))
    rows = batch.rows.to_numpy().astype(np.int64)
    uid = (np.int64(unit_index) << np.int64(32)) | rows
    idx = np.flatnonzero(has)
    n_bands = keys.shape[1]
    bands = pa.table({"band": pa.array(np.tile(np.arange(n_bands, dtype=np.int32), len(idx))),
                      "bkey": pa.array(keys[idx].reshape(-1)),
                      "uid": pa.array(np.repeat(uid[idx], n_bands))}, schema=BANDS_SCHEMA)
    k = sig.shape[1]
    sig_list = pa.ListArray.from_arrays(pa.array(np.arange(len(idx) + 1, dtype=np.int32) * k),
                                        pa.array(sig[idx].reshape(-1)))
    take = pa.array(idx, pa.int64())
    docs = pa.table({"uid": pa.array(uid[idx]), "id": table.column("id").take(take),
                     "unit": pa.array(np.full(len(idx), unit_index, dtype=np.int32)),
                     "rowno": pa.array(rows[idx]),
                     "score": _numeric(table, cfg.score_column).take(take),
                     "stars": _numeric(table, cfg.stars_column).take(take),
                     "sig": sig_list}, schema=DOCS_SCHEMA)
    return bands, docs


class NearDedup(DedupStage):
    """MinHash (``MinHashConfig``) or semantic (``SemanticConfig``) dedup: signatures, clusters, filter."""

    fallback_schema = DOCS_SCHEMA

    def __init__(self, config: NearConfig) -> None:
        super().__init__(config)
        self.name, self.reason = stage_of(config)

    def signatures(self, ctx: UnitContext) -> dict[str, pa.Table]:
        """Band keys first, docs last: each unit's phase marker is written after both."""
        bands, docs = sign_batch(self.load(ctx.unit), self.config, ctx.index)
        return {BANDS: bands, DOCS: docs}

    def cluster(self, ctx: GlobalContext) -> dict[str, int]:
        """Verified candidate edges, connected components and keepers, on the engine's SQL."""
        cfg = self.config
        if isinstance(cfg, SemanticConfig):
            verify, need, k = "dot", cfg.min_dot, 0
        else:
            verify, need, k = ("agree" if cfg.verify else None), cfg.min_agree, cfg.num_perm
        decisions = ctx.fresh_scratch(DECISIONS)
        with ctx.sql(cfg.memory_limit) as db:
            db.register_parquet("bands", ctx.scratch(BANDS))
            db.register_parquet("docs", ctx.scratch(DOCS))
            stats = cluster(db, verify, need, k)
            if stats["dropped"]:
                db.write_partitioned(f"SELECT unit, rowno AS {db.ident('row')}, id, keeper_id, group_size "
                                     "FROM decisions", decisions, "unit")
        return mark_decisions_done(decisions, stats)

    def plan(self) -> Plan:
        check_memory_limit(self.config.memory_limit)  # a usage error now, not after the first phase
        return Plan(self.name, self.config,
                    (MapPhase("signatures", self.signatures), GlobalPhase("cluster", self.cluster),
                     CommitPhase(self.filter)),
                    (Output("", DOCS_SCHEMA, schema_from_shards=True),))


def run_near_dedup(units: list[str], out_url: str, cfg: NearConfig | None = None, engine: str | Engine = "local",
                   workers: int = 1, overwrite: bool = False) -> RunSummary:
    """MinHash (``MinHashConfig``) or semantic (``SemanticConfig``) dedup of ``units`` into ``out_url``."""
    stage = NearDedup(cfg or MinHashConfig())
    summary = run_plan(stage.plan(), units, out_url, engine, workers, overwrite)[0]
    from codeflow.dedup.minhash_report import write_report

    write_report(summary, config_dict(stage.config))
    return summary
