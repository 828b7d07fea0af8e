"""Near-duplicate dedup end to end (MinHash, or semantic with the same phases).

1. ``signatures`` (per unit): validate rows exactly like exact dedup (same ids, same rejects), compute
   signatures and band keys, write ``_work/nd_bands/part-N.parquet`` (band, bkey, uid) and then
   ``_work/nd_docs/part-N.parquet`` (uid, id, unit, rowno, score, stars, sig); the docs file is the
   unit's commit, so a killed run redoes only units without one.
2. ``cluster`` (global, once): candidate edges, verification, connected components and keepers in the
   shared SQL of ``codeflow.dedup.components``, on duckdb (bounded memory) or Spark SQL; decisions go to
   ``_work/decisions/unit=N/`` in exact dedup's format (``row, id, keeper_id, group_size`` with the cluster
   size as group size), then a done flag.
3. ``filter`` (per unit): exact dedup's ``FilterJob`` with stage ``dedup_minhash`` / reason
   ``near_duplicate`` (``dedup_semantic`` / ``semantic_duplicate``) commits kept rows and rejects.

``uid = unit << 32 | row`` names a document in the global phase: an integer both engines order alike.
"""

from __future__ import annotations

import io
import json
import posixpath
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codeflow.dedup.exact import ValidatedBatch, pick_text_column
from codeflow.dedup.exact_run import FilterJob, _first_schema, _load, common_root
from codeflow.dedup.minhash import STAGE as MINHASH_STAGE
from codeflow.dedup.minhash import MinHashConfig, resolve_tokenizer, sign_texts
from codeflow.dedup.semantic import STAGE as SEMANTIC_STAGE
from codeflow.dedup.semantic import SemanticConfig, semantic_sign
from codeflow.lake import StageOutput, atomic_write_bytes
from codeflow.lease import leased
from codeflow.runner import RunSummary, finish, map_units
from codeflow.stage import config_dict, config_hash
from codeflow.ui import now

NearConfig = MinHashConfig | SemanticConfig
SIGN_BATCH = 8192
BANDS_SCHEMA = pa.schema([("band", pa.int32()), ("bkey", pa.int64()), ("uid", pa.int64())])
DOCS_SCHEMA = pa.schema([("uid", pa.int64()), ("id", pa.string()), ("unit", pa.int32()), ("rowno", pa.int64()),
                         ("score", pa.float64()), ("stars", pa.float64()), ("sig", pa.list_(pa.int64()))])


def write_work_table(out: StageOutput, path: str, table: pa.Table) -> None:
    """Scratch Parquet for the global phase: random 64-bit values do not compress or dictionary-encode, so
    trying (the lake's shard settings) only costs CPU; lz4 keeps the ids and small columns cheap."""
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="lz4", use_dictionary=["id"], row_group_size=64 * 1024)
    atomic_write_bytes(out.fs, path, buf.getvalue())


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


@dataclass(frozen=True)
class SignatureJob:
    cfg: NearConfig
    out_url: str
    units: tuple[str, ...]
    root: str

    def __call__(self, index: int) -> None:
        out = StageOutput(self.out_url)
        docs_path = out.work_path("nd_docs", f"part-{index:05d}.parquet")
        if out.fs.exists(docs_path):
            return
        batch = _load(self.units[index], self.cfg, self.root)
        bands, docs = sign_batch(batch, self.cfg, index)
        write_work_table(out, out.work_path("nd_bands", f"part-{index:05d}.parquet"), bands)
        write_work_table(out, docs_path, docs)


def _cluster(cfg: NearConfig, out: StageOutput, engine: str) -> dict[str, int]:
    if isinstance(cfg, SemanticConfig):
        verify, need, k = "dot", cfg.min_dot, 0
    else:
        verify, need, k = ("agree" if cfg.verify else None), cfg.min_agree, cfg.num_perm
    bands_dir, docs_dir = out.work_path("nd_bands"), out.work_path("nd_docs")
    decisions_dir = out.work_path("decisions")
    if engine == "spark":
        from codeflow.pipelines.spark.components import cluster_spark

        return cluster_spark(bands_dir, docs_dir, decisions_dir, verify=verify, need=need, k=k)
    from codeflow.dedup.components_local import cluster_local

    return cluster_local(out, posixpath.join(bands_dir, "part-*.parquet"), posixpath.join(docs_dir, "part-*.parquet"),
                         decisions_dir, verify=verify, need=need, k=k, memory_limit=cfg.memory_limit)


def _reset_stale_work(out: StageOutput, chash: str) -> None:
    """Scratch files of a killed run with another config (or of another stage) must not be resumed into."""
    stamp = out.work_path("near_config")
    if out.fs.exists(stamp):
        with out.fs.open(stamp, "rb") as f:
            if f.read().decode() == chash:
                return
    if out.fs.exists(out.work_path()):
        out.fs.rm(out.work_path(), recursive=True)
    atomic_write_bytes(out.fs, stamp, chash.encode())


def _signatures_and_clusters(cfg: NearConfig, out: StageOutput, units: list[str], root: str, engine: str,
                             workers: int, stage: str) -> dict[str, int]:
    """Phases 1 and 2; each resumes from its own committed files."""
    n = len(units)
    docs_dir = out.work_path("nd_docs")
    map_units(SignatureJob(cfg, out.url, tuple(units), root), n, engine, workers, out, f"{stage} signatures",
              count_done=lambda: len(out.fs.glob(posixpath.join(docs_dir, "part-*.parquet"))))
    done_flag = out.work_path("decisions.done")
    if out.fs.exists(done_flag):
        with out.fs.open(done_flag, "rb") as f:
            return json.load(f)
    decisions_dir = out.work_path("decisions")
    if out.fs.exists(decisions_dir):
        out.fs.rm(decisions_dir, recursive=True)
    cluster_stats = _cluster(cfg, out, engine) if n else {}
    atomic_write_bytes(out.fs, done_flag, json.dumps(cluster_stats).encode())
    return cluster_stats


@leased()
def run_near_dedup(units: list[str], out_url: str, cfg: NearConfig | None = None, engine: str = "local",
                   workers: int = 1, overwrite: bool = False) -> RunSummary:
    """MinHash (``MinHashConfig``) or semantic (``SemanticConfig``) dedup of ``units`` into ``out_url``."""
    cfg = cfg or MinHashConfig()
    stage, reason = stage_of(cfg)
    t0 = now()
    out = StageOutput(out_url)
    if overwrite:
        out.clear()
    chash = config_hash(stage, cfg)
    out.check_config(chash, units)
    _reset_stale_work(out, chash)
    resumed = out.count_committed()
    root = common_root(units)
    n = len(units)
    stats_path = out.path("_clusters.json")
    if resumed == n and out.fs.exists(stats_path):  # every shard committed: nothing left to cluster
        with out.fs.open(stats_path, "rb") as f:
            cluster_stats = json.load(f)
    else:
        cluster_stats = _signatures_and_clusters(cfg, out, units, root, engine, workers, stage)
        atomic_write_bytes(out.fs, stats_path,
                           (json.dumps(cluster_stats, indent=2, sort_keys=True) + "\n").encode())
    map_units(FilterJob(cfg, out_url, tuple(units), root, stage, reason), n, engine, workers, out,
              f"{stage} filter")
    schema = _first_schema(out) or DOCS_SCHEMA
    summary = finish(stage, out, n, schema, cfg, t0, resumed)
    summary.stats.update({f"cluster_{k}": v for k, v in cluster_stats.items()})
    from codeflow.dedup.minhash_report import write_report

    write_report(summary, config_dict(cfg))
    return summary
