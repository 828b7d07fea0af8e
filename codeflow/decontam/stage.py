"""The ``decontaminate`` map stage: records in, contaminated ones rejected (``remove``) or flagged (``annotate``).

Pure core on today's contract: ``process(batch, unit) -> StageResult``. The benchmark index is a side input:
the stage holds its URL and content hash (the hash is in the config, so in the run identity) and loads it once
per process. Rows in = kept + rejected for every unit.

* ``remove``: a record matched by any enabled matcher at or above its threshold becomes a reject with reason
  ``contaminated`` and a detail listing every match, ``benchmark=… task=… matcher=… overlap=… field=… span=a-b
  item_span=c-d`` joined by `` | `` (spans are character offsets in the record and in the benchmark field); a
  record whose text is null is rejected as ``null_text``.
* ``annotate``: every record is kept, with a ``contamination`` column: the list of matches as structs (empty
  when clean, null when the text is null).

Counters: ``contaminated``, ``null_text``, ``records_<matcher>`` (records with a match by that matcher),
``records_<benchmark>``, and ``score_<matcher>_<bin>``: the best score of every record that had any overlap,
in bins of 0.05, so the report can show what another threshold would change.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from urllib.parse import quote

import pyarrow as pa

from codeflow.decontam.index import MATCHERS, DecontamIndex, load_index
from codeflow.decontam.match import Hit, Matcher, Piece
from codeflow.decontam.tokens import char_span, token_spans
from codeflow.records import field as doc_field
from codeflow.records import rejects_table, stable_id
from codeflow.stage import Stage, StageResult

STAGE = "decontaminate"
MODES = ("remove", "annotate")
TEXT_COLUMNS = ("content", "text")
SCORE_BIN = 0.05
MATCH_STRUCT = pa.struct([pa.field("benchmark", pa.string()), pa.field("task_id", pa.string()),
                          pa.field("field", pa.string()), pa.field("matcher", pa.string()),
                          pa.field("score", pa.float64()), pa.field("start", pa.int64()), pa.field("end", pa.int64()),
                          pa.field("item_start", pa.int64()), pa.field("item_end", pa.int64())])
CONTAMINATION_FIELD = doc_field(
    "contamination", pa.list_(MATCH_STRUCT),
    "Benchmark matches (codeflow decontaminate --mode annotate): benchmark, task_id, field, matcher (ngram, "
    "substring, minhash, embedding), score (overlap share, 1 for exact substring, estimated Jaccard, cosine), "
    "start/end (characters of this record) and item_start/item_end (characters of the benchmark field). Empty: "
    "clean; null: the text was null.")


@dataclass(frozen=True)
class DecontamConfig:
    """What decides the output; ``index_hash`` ties the run to the benchmark data and matcher settings."""

    mode: str = "remove"
    text_column: str | None = None
    id_column: str = "id"
    index_hash: str = ""
    benchmarks: tuple[str, ...] = ()
    max_matches: int = 20

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")


def resolve_text_column(names: list[str], wanted: str | None) -> str:
    if wanted:
        if wanted not in names:
            raise ValueError(f"input has no column {wanted!r} (columns: {', '.join(names)})")
        return wanted
    for c in TEXT_COLUMNS:
        if c in names:
            return c
    raise ValueError(f"input has neither a 'content' nor a 'text' column (columns: {', '.join(names)}); "
                     f"name one with --text-column")


def output_schema(input_schema: pa.Schema, mode: str) -> pa.Schema:
    if mode == "annotate":  # re-annotating an annotated lake replaces the column
        if "contamination" in input_schema.names:
            input_schema = input_schema.remove(input_schema.get_field_index("contamination"))
        return input_schema.append(CONTAMINATION_FIELD)
    return input_schema


def score_bin(score: float) -> str:
    return f"{math.floor(min(score, 1.0) / SCORE_BIN + 1e-9) * SCORE_BIN:.2f}"


@dataclass
class Match:
    """A reportable match with character spans (record and benchmark field)."""

    benchmark: str
    task_id: str
    field: str
    matcher: str
    score: float
    start: int
    end: int
    item_start: int
    item_end: int

    def detail(self) -> str:
        return (f"benchmark={self.benchmark} task={quote(self.task_id, safe='/:._-')} matcher={self.matcher} "
                f"overlap={self.score:.3f} field={self.field} span={self.start}-{self.end} "
                f"item_span={self.item_start}-{self.item_end}")


def to_matches(index: DecontamIndex, hits: list[Hit], pieces: list[Piece], limit: int) -> list[Match]:
    """Hits at or above their matcher's threshold as :class:`Match` es, best first, one per task and matcher."""
    cfg = index.config
    best: dict[tuple[int, str], Hit] = {}
    for h in hits:
        if h.score + 1e-12 < cfg.threshold(h.matcher) or (h.matcher == "ngram" and h.count < cfg.min_ngrams):
            continue
        key = (int(index.seg_item[h.seg]), h.matcher)
        if key not in best or (h.score, -h.seg) > (best[key].score, -best[key].seg):
            best[key] = h
    spans: dict[tuple[int, str], list[tuple[int, int]]] = {}

    def piece_spans(p: int, kind: str) -> list[tuple[int, int]]:
        if (p, kind) not in spans:
            spans[(p, kind)] = token_spans(pieces[p].text, kind)
        return spans[(p, kind)]

    out = []
    for (item, matcher), h in best.items():
        kind = index.seg_kind[h.seg]
        if matcher == "embedding":  # a character window against the whole segment
            a, b, ia, ib = h.first, h.last + 1, 0, len(index.seg_text[h.seg])
        else:
            a, _ = char_span(piece_spans(h.piece, kind), h.first, h.first)
            _, b = char_span(piece_spans(h.last_piece, kind), h.last, h.last)
            ia, ib = char_span(token_spans(index.seg_text[h.seg], kind), h.seg_first, h.seg_last)
        bench, task = index.items[item]
        out.append(Match(bench, task, index.seg_field[h.seg], matcher, round(h.score, 4),
                         pieces[h.piece].offset + a, pieces[h.last_piece].offset + b, ia, ib))
    out.sort(key=lambda m: (-m.score, MATCHERS.index(m.matcher), m.benchmark, m.task_id))
    return out[:limit]


class DecontamStage(Stage):
    name = STAGE
    schema = pa.schema([])

    def __init__(self, config: DecontamConfig, schema: pa.Schema, index_url: str) -> None:
        super().__init__(config)
        self.schema = schema  # the input's schema (+ the contamination column when annotating)
        self.index_url = index_url
        self._matcher: Matcher | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_matcher"] = None  # workers load the index themselves
        return state

    def matcher(self) -> Matcher:
        if self._matcher is None:
            self._matcher = Matcher(load_index(self.index_url, self.config.index_hash))
        return self._matcher

    def process(self, batch: pa.Table, unit: str) -> StageResult:
        cfg = self.config
        matcher = self.matcher()
        index = matcher.index
        col = resolve_text_column(batch.column_names, cfg.text_column)
        texts = batch.column(col).to_pylist()
        ids = batch.column(cfg.id_column).to_pylist() if cfg.id_column in batch.column_names else [None] * len(texts)
        hits, pieces = matcher.match(texts)
        by_record: dict[int, list[Hit]] = {}
        for h in hits:
            by_record.setdefault(h.record, []).append(h)
        stats: Counter = Counter(rows_in=batch.num_rows)
        keep = []
        rejects = []
        annotations: list[list[dict] | None] = []
        for r, text in enumerate(texts):
            rid = ids[r] or stable_id(unit, str(r), prefix="row:")
            source = f"{unit}#{r}"
            if text is None:
                stats["null_text"] += 1
                if cfg.mode == "remove":
                    rejects.append({"id": rid, "stage": self.name, "reason": "null_text",
                                    "detail": f"column {col!r} is null", "source": source})
                    keep.append(False)
                else:
                    keep.append(True)
                    annotations.append(None)
                continue
            rec_hits = by_record.get(r, [])
            for matcher_name in MATCHERS:
                scores = [h.score for h in rec_hits if h.matcher == matcher_name]
                if scores and matcher_name != "substring":
                    stats[f"score_{matcher_name}_{score_bin(max(scores))}"] += 1
            matches = to_matches(index, rec_hits, pieces, cfg.max_matches) if rec_hits else []
            if matches:
                stats["contaminated"] += 1
                for name in sorted({m.matcher for m in matches}):
                    stats[f"records_{name}"] += 1
                for name in sorted({m.benchmark for m in matches}):
                    stats[f"records_{name}"] += 1
            if cfg.mode == "remove":
                keep.append(not matches)
                if matches:
                    rejects.append({"id": rid, "stage": self.name, "reason": "contaminated",
                                    "detail": " | ".join(m.detail() for m in matches), "source": source})
            else:
                keep.append(True)
                annotations.append([vars(m) for m in matches])
        kept = batch.filter(pa.array(keep, pa.bool_())) if batch.num_rows else batch
        if cfg.mode == "annotate":
            if "contamination" in kept.column_names:
                kept = kept.drop_columns(["contamination"])
            kept = kept.append_column(CONTAMINATION_FIELD, pa.array(annotations, pa.list_(MATCH_STRUCT)))
        if kept.schema != self.schema:
            kept = kept.cast(self.schema)
        return StageResult(kept, rejects_table(rejects), stats)
