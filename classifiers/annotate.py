"""``codeflow classifiers annotate``: a teacher model scores a seeded, stratified sample of the lake.

Flow: draw the sample (:func:`draw_sample`), and for each document x dimension look the reply up in the cache by
(text hash, prompt version, model); ask the endpoint only for the misses, concurrently under a rate limit; every
reply is written to the cache the moment it arrives (so a run that dies keeps what it paid for); then every reply
is parsed strictly (:mod:`codeflow.classifiers.rubrics`) into ``annotations.parquet`` (score, raw reply, prompt
version) or ``rejects.parquet`` (reason, detail). Re-running the same command costs nothing for what is cached.

The sample: rows are grouped into strata (``--stratify COLUMN``; by default ``language`` when the input has it,
else the input file), each stratum gets a share of ``n`` proportional to its size (largest remainder), and within
a stratum the rows with the smallest hash(seed, id) are taken, so the sample does not depend on file order,
engine or worker count. Empty texts are rejects (``empty_text``) and never sent.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from codeflow.classifiers.client import ChatClient, EndpointDown, RateLimiter
from codeflow.classifiers.rubrics import ParseError, Rubric, parse_score, rubric
from codeflow.errors import CodeflowError
from codeflow.lake import atomic_write_json, atomic_write_parquet, to_fs
from codeflow.records import field as doc_field
from codeflow.records import rejects_table, stable_id
from codeflow.sources import expand_inputs

STAGE = "annotate"
TEXT_COLUMNS = ("text", "content")

ANNOTATION_SCHEMA = pa.schema([
    doc_field("id", pa.string(), "Id of the annotated document (its lake id, else a hash of file and row).",
              nullable=False),
    doc_field("text", pa.string(), "The document text as stored (the prompt holds at most --max-chars of it).",
              nullable=False),
    doc_field("domain", pa.string(), "text, code or math: which rubric family scored it.", nullable=False),
    doc_field("dimension", pa.string(), "edu, density or toxicity.", nullable=False),
    doc_field("score", pa.float64(), "Parsed score: integer 0..5 (edu, density) or probability 0..1 (toxicity).",
              nullable=False),
    doc_field("raw_reply", pa.string(), "The teacher's reply, verbatim.", nullable=False),
    doc_field("prompt_version", pa.string(), "<domain>.<dimension>.v<N>-<hash of the prompt text>.", nullable=False),
    doc_field("model", pa.string(), "Teacher model name sent to the endpoint.", nullable=False),
    doc_field("text_hash", pa.string(), "sha256 of the text (the cache key's first part).", nullable=False),
    doc_field("stratum", pa.string(), "Sampling stratum the document was drawn from."),
    doc_field("source", pa.string(), "Input file and row."),
], metadata={"codeflow.kind": "annotation"})


@dataclass(frozen=True)
class AnnotateConfig:
    endpoint: str
    model: str
    domain: str = "text"
    dimensions: tuple[str, ...] = ("edu",)
    sample: int = 1000
    seed: int = 0
    stratify: str | None = None
    text_column: str | None = None
    concurrency: int = 8
    rate: float = 10.0
    max_retries: int = 5
    timeout_s: float = 60.0
    backoff_s: float = 1.0
    max_chars: int = 8000
    max_tokens: int = 512


@dataclass
class Doc:
    id: str
    text: str
    stratum: str
    source: str


@dataclass
class AnnotateResult:
    annotations: int = 0
    rejects: int = 0
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    by_reason: Counter = field(default_factory=Counter)
    out: str = ""


# ---------------------------------------------------------------- sampling

def _text_column(schema: pa.Schema, name: str | None, unit: str) -> str:
    col = name or next((c for c in TEXT_COLUMNS if c in schema.names), None)
    if col is None or col not in schema.names:
        raise CodeflowError(f"{unit}: no text column {name or ' / '.join(TEXT_COLUMNS)!r} "
                            f"(columns: {', '.join(schema.names)}); name it with --text-column")
    return col


def _rank(seed: int, key: str) -> bytes:
    return hashlib.blake2b(f"{seed}\x00{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest()


def draw_sample(inputs: list[str], n: int, seed: int = 0, stratify: str | None = None,
                text_column: str | None = None) -> list[Doc]:
    """A seeded, stratified sample of ``n`` rows of the input files (see the module doc)."""
    from codeflow.sources import read_table_file

    units = expand_inputs(inputs)
    rows: list[tuple[str, str, str, int]] = []  # (stratum, id, unit, row)
    tables: dict[str, pa.Table] = {}
    for unit in units:
        t = read_table_file(unit)
        tables[unit] = t
        col = stratify or ("language" if "language" in t.column_names else None)
        if stratify and stratify not in t.column_names:
            raise CodeflowError(f"{unit}: no column {stratify!r} to stratify by")
        ids = t.column("id").to_pylist() if "id" in t.column_names else [None] * t.num_rows
        strata = t.column(col).to_pylist() if col else [unit] * t.num_rows
        for r in range(t.num_rows):
            rid = ids[r] or stable_id(unit, str(r), prefix="row-")
            rows.append((str(strata[r]), str(rid), unit, r))
    groups: dict[str, list[tuple[str, str, str, int]]] = {}
    for row in rows:
        groups.setdefault(row[0], []).append(row)
    quotas = _quotas({k: len(v) for k, v in groups.items()}, min(n, len(rows)))
    picked: list[tuple[str, str, str, int]] = []
    for stratum in sorted(groups):
        members = sorted(groups[stratum], key=lambda r: (_rank(seed, r[1]), r[2], r[3]))
        picked.extend(members[:quotas[stratum]])
    picked.sort(key=lambda r: (_rank(seed, r[1]), r[2], r[3]))
    docs = []
    for stratum, rid, unit, r in picked:
        t = tables[unit]
        text = t.column(_text_column(t.schema, text_column, unit))[r].as_py()
        docs.append(Doc(rid, text if isinstance(text, str) else "", stratum, f"{unit}#{r}"))
    return docs


def _quotas(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Proportional shares of ``n`` (largest remainder; ties by stratum name), never above a stratum's size."""
    total = sum(sizes.values())
    if not total:
        return dict.fromkeys(sizes, 0)
    exact = {k: n * v / total for k, v in sizes.items()}
    q = {k: int(v) for k, v in exact.items()}
    for k in sorted(sizes, key=lambda k: (-(exact[k] - q[k]), k))[:n - sum(q.values())]:
        q[k] += 1
    return {k: min(v, sizes[k]) for k, v in q.items()}


# ---------------------------------------------------------------- cache

class ReplyCache:
    """Raw replies by (text hash, prompt version, model) in SQLite; written by one thread, committed per reply."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS replies (text_hash TEXT, prompt_version TEXT, model TEXT, "
                        "reply TEXT NOT NULL, PRIMARY KEY (text_hash, prompt_version, model))")
        self.db.commit()

    def get(self, text_hash: str, version: str, model: str) -> str | None:
        row = self.db.execute("SELECT reply FROM replies WHERE text_hash=? AND prompt_version=? AND model=?",
                              (text_hash, version, model)).fetchone()
        return row[0] if row else None

    def put(self, text_hash: str, version: str, model: str, reply: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?)", (text_hash, version, model, reply))
        self.db.commit()

    def close(self) -> None:
        self.db.close()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# ---------------------------------------------------------------- run

def default_cache(out: str) -> str:
    fs, path = to_fs(out)
    protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
    if protocol not in ("file", "local"):
        raise CodeflowError("--out is not a local folder: give --cache PATH (a local SQLite file) for the replies")
    return os.path.join(path, "_cache.sqlite")


def annotate(inputs: list[str], out: str, cfg: AnnotateConfig, cache_path: str | None = None,
             api_key: str | None = None, progress=None) -> AnnotateResult:
    """Annotate a sample of ``inputs`` into ``out``; raises EndpointDown after writing what was annotated."""
    rubrics = [rubric(cfg.domain, d) for d in cfg.dimensions]
    docs = draw_sample(inputs, cfg.sample, cfg.seed, cfg.stratify, cfg.text_column)
    client = ChatClient(cfg.endpoint, cfg.model, api_key, cfg.timeout_s, cfg.max_retries, cfg.backoff_s,
                        cfg.max_tokens)
    cache = ReplyCache(cache_path or default_cache(out))
    res = AnnotateResult(out=out)
    jobs: list[tuple[Doc, Rubric, str]] = []  # (doc, rubric, text hash) still to ask
    replies: dict[tuple[str, str], str] = {}
    rejects: list[dict] = []
    for doc in docs:
        if not doc.text.strip():
            for rub in rubrics:
                rejects.append(_reject(doc, "empty_text", f"{rub.dimension}: empty or whitespace-only text"))
            continue
        th = text_hash(doc.text)
        for rub in rubrics:
            hit = cache.get(th, rub.version, cfg.model)
            if hit is None:
                jobs.append((doc, rub, th))
            else:
                replies[(doc.id, rub.dimension)] = hit
                res.cache_hits += 1
    error: EndpointDown | None = None
    try:
        error = _ask_all(jobs, client, cfg, cache, replies, res, progress)
    finally:
        cache.close()
        _write(docs, rubrics, replies, rejects, cfg, out, res, error)
    if error is not None:
        raise EndpointDown(f"{error}. {res.annotations} annotations written to {out} (and every reply cached); "
                           f"re-run the same command to resume") from error
    return res


def _ask_all(jobs, client: ChatClient, cfg: AnnotateConfig, cache: ReplyCache, replies: dict, res: AnnotateResult,
             progress) -> EndpointDown | None:
    limiter = RateLimiter(cfg.rate)
    stop = threading.Event()
    error: EndpointDown | None = None

    def ask(doc: Doc, rub: Rubric):
        return client.complete(rub.prompt(doc.text[:cfg.max_chars]), limiter, stop)

    with ThreadPoolExecutor(max_workers=max(1, cfg.concurrency)) as pool:
        pending: dict[Future, tuple[Doc, Rubric, str]] = {}
        queue = iter(jobs)
        while True:
            while not stop.is_set() and len(pending) < cfg.concurrency:
                job = next(queue, None)
                if job is None:
                    break
                pending[pool.submit(ask, job[0], job[1])] = job
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                if fut not in pending:
                    continue
                doc, rub, th = pending.pop(fut)
                if fut.cancelled():
                    continue
                try:
                    reply, retries = fut.result()
                except EndpointDown as e:
                    error = error or e
                    stop.set()
                    for other in pending:
                        other.cancel()
                    continue
                except BaseException:
                    stop.set()
                    for other in pending:
                        other.cancel()
                    raise
                cache.put(th, rub.version, cfg.model, reply)  # the main thread owns the cache
                replies[(doc.id, rub.dimension)] = reply
                res.requests += 1
                res.retries += retries
                if progress:
                    progress()
    return error


def _reject(doc: Doc, reason: str, detail: str) -> dict:
    return {"id": doc.id, "stage": STAGE, "reason": reason, "detail": detail, "source": doc.source}


def _write(docs: list[Doc], rubrics: list[Rubric], replies: dict, rejects: list[dict], cfg: AnnotateConfig,
           out: str, res: AnnotateResult, error: Exception | None) -> None:
    rows = []
    for doc in docs:
        for rub in rubrics:
            reply = replies.get((doc.id, rub.dimension))
            if reply is None:
                continue
            try:
                score = parse_score(reply, rub)
            except ParseError as e:
                rejects.append(_reject(doc, e.reason, f"{rub.dimension} ({rub.version}): {e}; reply: "
                                       f"{reply[-200:]!r}"))
                continue
            rows.append({"id": doc.id, "text": doc.text, "domain": cfg.domain, "dimension": rub.dimension,
                         "score": score, "raw_reply": reply, "prompt_version": rub.version, "model": cfg.model,
                         "text_hash": text_hash(doc.text), "stratum": doc.stratum, "source": doc.source})
    fs, root = to_fs(out)
    fs.makedirs(root, exist_ok=True)
    atomic_write_parquet(fs, f"{root}/annotations.parquet", pa.Table.from_pylist(rows, schema=ANNOTATION_SCHEMA))
    atomic_write_parquet(fs, f"{root}/rejects.parquet", rejects_table(rejects))
    res.annotations, res.rejects = len(rows), len(rejects)
    res.by_reason = Counter(r["reason"] for r in rejects)
    stats = {"stage": STAGE, "documents": len(docs), "dimensions": list(cfg.dimensions), "annotations": len(rows),
             "rejected": len(rejects), "rejected_by_reason": dict(sorted(res.by_reason.items())),
             "requests": res.requests, "cache_hits": res.cache_hits, "retries": res.retries,
             "complete": error is None, "config": {k: v for k, v in cfg.__dict__.items()},
             "prompt_versions": {r.dimension: r.version for r in rubrics}}
    atomic_write_json(fs, f"{root}/_stats.json", json.loads(json.dumps(stats, default=list)))


def read_annotations(out: str) -> pa.Table:
    fs, root = to_fs(out)
    with fs.open(f"{root}/annotations.parquet", "rb") as f:
        return pq.read_table(f)
