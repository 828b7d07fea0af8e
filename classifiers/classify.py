"""``codeflow classify``: score lake records with trained quality models, add ``quality`` + ``quality_score``, filter.

A map stage (``Stage.process(batch, unit) -> StageResult``): every input row is kept with two new columns, or
rejected by a keep rule:

* ``quality``: a struct with the record's ``domain`` (text / code / math, :mod:`codeflow.classifiers.routing`)
  and one float per dimension the given models score (null where no model of the record's domain scores it);
* ``quality_score``: the mean over the record's scored dimensions of the score scaled to 0..1 "goodness"
  (``(s - lo) / (hi - lo)`` for a 0–5 score or a probability; ``1 - p`` for ``toxicity``); MinHash dedup keeps
  the cluster member with the highest ``quality_score`` (``codeflow.dedup.minhash``'s keeper rule);
* routing: code records go to code models, text to text models, math to math models; math without a math model
  falls back to the text models; code without a code model stays unscored unless ``code_uses_text_models``
  (``--code-uses-text-models``) sends it to the text models;
* keep rules ``--keep 'edu>=3'``: a scored row that fails one is a reject ``low_quality:<dimension>`` (or
  ``toxic`` for the toxicity dimension) with the score and the rule in the detail. A rule does not apply to a
  row its dimension did not score. Null text -> ``null_text``; empty or whitespace-only text -> ``empty_text``.

Models are side inputs (``codeflow.plan.SideInput``, declared by :meth:`ClassifyStage.side_inputs`): their
content hashes join the run's identity, so retraining a model changes it (no resume into shards scored by the old
model), and a worker refuses a model directory whose files changed after the run was planned. Each worker process
loads each model once (:func:`loaded`). Scores are rounded to 4 decimals, and torch runs with a fixed thread count,
so both engines write identical bytes.
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from codeflow.classifiers.encoder import Chunking, encoder
from codeflow.classifiers.modeldir import SCORERS, ModelDirError, QualityModel, model_input
from codeflow.classifiers.routing import domain_of
from codeflow.errors import CodeflowError
from codeflow.plan import SideInput
from codeflow.records import field as doc_field
from codeflow.records import rejects_table
from codeflow.stage import Stage, StageResult

STAGE = "classify"
DECIMALS = 4
_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_RULE = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*(>=|<=|==|>|<)\s*([-+]?\d+(?:\.\d+)?)\s*$")
_MODELS: dict[str, QualityModel] = {}


@dataclass(frozen=True)
class KeepRule:
    dimension: str
    op: str
    value: float

    @classmethod
    def parse(cls, rule: str) -> KeepRule:
        m = _RULE.match(rule)
        if not m:
            raise CodeflowError(f"keep rule {rule!r} is not DIMENSION OP NUMBER (OP one of >= <= > < ==), "
                                "e.g. 'edu>=3' or 'toxicity<0.5'")
        return cls(m.group(1), m.group(2), float(m.group(3)))

    def __str__(self) -> str:
        return f"{self.dimension}{self.op}{self.value:g}"

    def passes(self, score: float) -> bool:
        return _OPS[self.op](score, self.value)

    @property
    def reason(self) -> str:
        return "toxic" if self.dimension == "toxicity" else f"low_quality:{self.dimension}"


@dataclass(frozen=True)
class ClassifyConfig:
    """``models``: absolute model directories (side inputs of the run); ``keep``: rule strings (:class:`KeepRule`)."""

    models: tuple[str, ...]
    dimensions: tuple[str, ...]
    keep: tuple[str, ...] = ()
    scorer: str = "proxy"
    text_column: str | None = None
    batch_size: int = 64
    threads: int = 1
    code_uses_text_models: bool = False
    max_chunks: int | None = None  # cap on the chunks any proxy reads per text (None: each model's own)


def make_config(model_dirs: list[str], keep: list[str] = (), scorer: str = "proxy", text_column: str | None = None,
                batch_size: int = 64, threads: int = 1, code_uses_text_models: bool = False,
                max_chunks: int | None = None) -> ClassifyConfig:
    """Validate models and rules and build the config."""
    import os

    if not model_dirs:
        raise CodeflowError("give at least one --model DIR")
    if scorer not in SCORERS:
        raise CodeflowError(f"unknown scorer {scorer!r}; choose from {', '.join(SCORERS)}")
    dirs = tuple(os.path.abspath(d) for d in model_dirs)
    seen: dict[tuple[str, str], str] = {}
    dims = set()
    for d in dirs:
        m = QualityModel.load(d)
        key = (m.domain, m.dimension)
        if key in seen:
            raise CodeflowError(f"{d} and {seen[key]} both score {m.dimension} for {m.domain}: give one")
        seen[key] = d
        dims.add(m.dimension)
    rules = [KeepRule.parse(r) for r in keep]
    for r in rules:
        if r.dimension not in dims:
            raise CodeflowError(f"keep rule {str(r)!r}: no model scores {r.dimension!r} "
                                f"(the models score: {', '.join(sorted(dims))})")
    if max_chunks is not None and max_chunks < 1:
        raise CodeflowError(f"--max-chunks must be at least 1 (got {max_chunks})")
    return ClassifyConfig(dirs, tuple(sorted(dims)), tuple(keep), scorer, text_column, batch_size, threads,
                          code_uses_text_models, max_chunks)


def model_inputs(config: ClassifyConfig) -> tuple[SideInput, ...]:
    """Every model directory of ``config`` as a side input of the run (``model0``, ``model1``, ...)."""
    return tuple(model_input(d, f"model{i}") for i, d in enumerate(config.models))


def loaded(path: str, expected_hash: str) -> QualityModel:
    """The model at ``path``, loaded once per process; refuses a directory whose files changed since planning."""
    if path not in _MODELS:
        if SideInput("model", path).content_hash() != expected_hash:
            raise ModelDirError(f"model directory {path} changed after this run was planned; re-run the command")
        _MODELS[path] = QualityModel.load(path)
    return _MODELS[path]


def quality_type(dimensions: tuple[str, ...]) -> pa.DataType:
    return pa.struct([pa.field("domain", pa.string())] + [pa.field(d, pa.float64()) for d in dimensions])


def output_schema(input_schema: pa.Schema, dimensions: tuple[str, ...]) -> pa.Schema:
    base = [f for f in input_schema if f.name not in ("quality", "quality_score")]
    return pa.schema(base + [
        doc_field("quality", quality_type(dimensions), "Quality scores: domain (text/code/math) and one score per "
                  "dimension (0-5 rubric score or probability; null when no model of this domain scores it)."),
        doc_field("quality_score", pa.float64(), "Mean of the scored dimensions scaled to 0..1 goodness "
                  "(toxicity inverted); MinHash dedup keeps the highest in a cluster. Null when unscored."),
    ], metadata=input_schema.metadata)


class ClassifyStage(Stage):
    """Scores rows with every model of their domain, then applies the keep rules (see the module doc)."""

    name = STAGE

    def __init__(self, config: ClassifyConfig, input_schema: pa.Schema) -> None:
        super().__init__(config)
        self.schema = output_schema(input_schema, config.dimensions)  # type: ignore[misc]
        self.rules = [KeepRule.parse(r) for r in config.keep]
        # what the workers check each model directory against; the runner hashes the same side inputs into the
        # run's identity when the run starts, so a directory changed in between fails the units loudly
        self.model_hashes = tuple(s.content_hash() for s in self.side_inputs())

    def side_inputs(self) -> tuple[SideInput, ...]:
        return model_inputs(self.config)

    def _text_column(self, batch: pa.Table) -> tuple[str, bool]:
        names = batch.column_names
        col = self.config.text_column or ("text" if "text" in names else "content" if "content" in names else None)
        if col is None or col not in names:
            raise CodeflowError(f"input has no text column {col or 'text / content'!r} (columns: {', '.join(names)})")
        return col, col == "content"

    def process(self, batch: pa.Table, unit: str) -> StageResult:
        cfg: ClassifyConfig = self.config
        col, is_code = self._text_column(batch)
        texts = batch.column(col).to_pylist()
        ids = batch.column("id").to_pylist() if "id" in batch.column_names else [f"{unit}#{i}" for i in
                                                                                 range(batch.num_rows)]
        n = batch.num_rows
        stats: Counter = Counter(rows_in=n)
        rejects: list[dict] = []
        ok = np.ones(n, dtype=bool)
        domains: list[str | None] = [None] * n
        for i, t in enumerate(texts):
            if t is None or not t.strip():
                ok[i] = False
                reason = "null_text" if t is None else "empty_text"
                rejects.append({"id": ids[i], "stage": STAGE, "reason": reason, "detail": None,
                                "source": f"{unit}#{i}"})
            else:
                domains[i] = domain_of(t, is_code)
                stats[f"domain_{domains[i]}"] += 1
        scores = {d: np.full(n, np.nan) for d in cfg.dimensions}
        goodness_sum, goodness_n = np.zeros(n), np.zeros(n)
        models = [loaded(p, h) for p, h in zip(cfg.models, self.model_hashes, strict=True)]
        own = {m.domain for m in models}
        rows_of = []
        for m in models:
            wanted = {m.domain}
            if m.domain == "text":  # domains without models of their own fall back to the text models
                wanted |= {"math"} - own
                wanted |= ({"code"} - own) if cfg.code_uses_text_models else set()
            rows_of.append([i for i in range(n) if ok[i] and domains[i] in wanted])
        for m, rows, s in zip(models, rows_of, self._score(models, rows_of, texts), strict=True):
            idx = np.asarray(rows, dtype=np.int64)
            s = np.round(s, DECIMALS)
            scores[m.dimension][idx] = s
            good = (s - m.task.lo) / (m.task.hi - m.task.lo)
            goodness_sum[idx] += 1 - good if m.dimension == "toxicity" else good
            goodness_n[idx] += 1
            stats[f"scored_{m.domain}_{m.dimension}"] += len(rows)
        for i in range(n):
            if not ok[i]:
                continue
            failed = [r for r in self.rules if not np.isnan(scores[r.dimension][i])
                      and not r.passes(scores[r.dimension][i])]
            if failed:
                ok[i] = False
                detail = "; ".join(f"{r.dimension}={scores[r.dimension][i]:.4f} fails {r}" for r in failed)
                rejects.append({"id": ids[i], "stage": STAGE, "reason": failed[0].reason, "detail": detail,
                                "source": f"{unit}#{i}"})
            elif goodness_n[i] == 0:
                stats["unscored"] += 1
        keep_idx = np.flatnonzero(ok)
        quality = pa.array([
            {"domain": domains[i], **{d: (None if np.isnan(scores[d][i]) else float(scores[d][i]))
                                      for d in cfg.dimensions}} for i in keep_idx], quality_type(cfg.dimensions))
        qscore = pa.array([None if goodness_n[i] == 0 else round(float(goodness_sum[i] / goodness_n[i]), 6)
                           for i in keep_idx], pa.float64())
        kept = batch.take(pa.array(keep_idx, pa.int64()))
        kept = kept.drop_columns([c for c in ("quality", "quality_score") if c in kept.column_names])
        kept = kept.append_column("quality", quality).append_column("quality_score", qscore)
        kept = kept.select(self.schema.names).cast(self.schema)
        return StageResult(kept, rejects_table(rejects), stats)


    def _score(self, models: list[QualityModel], rows_of: list[list[int]], texts: list[str]) -> list[np.ndarray]:
        """Each model's scores of its rows. Proxies that share an encoder share its work: each batch of rows is
        chunked and encoded once (up to the most chunks any of them reads), and every model pools its own prefix
        of those chunk vectors, so a second dimension costs a matrix product, not another pass of the encoder."""
        cfg: ClassifyConfig = self.config
        out: list[np.ndarray] = [np.zeros(len(rows)) for rows in rows_of]
        if cfg.scorer != "proxy":
            for j, (m, rows) in enumerate(zip(models, rows_of, strict=True)):
                for start in range(0, len(rows), cfg.batch_size):
                    part = rows[start:start + cfg.batch_size]
                    out[j][start:start + len(part)] = m.score([texts[i] for i in part], cfg.scorer)[0]
            return out
        groups: dict[tuple[str, int], list[int]] = {}
        for j, m in enumerate(models):
            groups.setdefault((m.meta["encoder"]["spec"], m.chunking.window), []).append(j)
        for (spec, window), members in groups.items():
            enc = encoder(spec, cfg.threads)
            reads = {j: min(models[j].chunking.max_chunks, cfg.max_chunks or models[j].chunking.max_chunks)
                     for j in members}
            chunking = Chunking(window, max(reads.values()))
            union = sorted(set().union(*(rows_of[j] for j in members)))
            where = {j: {i: k for k, i in enumerate(rows_of[j])} for j in members}
            for start in range(0, len(union), cfg.batch_size):
                part = union[start:start + cfg.batch_size]
                chunks = enc.embed_chunks([texts[i] for i in part], chunking, min(32, cfg.batch_size))
                for j in members:
                    sel = np.array([k for k, i in enumerate(part) if i in where[j]], dtype=np.int64)
                    if not len(sel):
                        continue
                    mine = [part[k] for k in sel]
                    s, _ = models[j].head.predict(chunks.subset(sel), [texts[i] for i in mine], models[j].task,
                                                  reads[j])
                    out[j][[where[j][i] for i in mine]] = s
        return out


def run_classify(inputs: list[str], out: str, config: ClassifyConfig, engine: str = "local", workers: int = 1,
                 overwrite: bool = False):
    """Score every input file into one shard of ``out`` on the chosen engine (resumable); returns the summary."""
    from codeflow.runner import run_map_stage
    from codeflow.sources import TableSource, expand_inputs, read_table_file

    units = expand_inputs(list(inputs))
    schema = read_table_file(units[0]).schema
    source = TableSource()
    source.stage_name = STAGE
    stage = ClassifyStage(config, schema)
    summary = run_map_stage(stage, source, units, out, engine, workers, overwrite)
    from codeflow.classifiers.report import write_classify_report

    write_classify_report(summary, config, stage.model_hashes)
    return summary
