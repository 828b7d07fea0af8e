"""Training data from the lake: Parquet shards of any stage with a ``text`` column, mixed, tokenized, packed.

Pipeline (one loader per data-parallel rank)::

    sources (stage folders)  ->  ShardReader per source: (cursor, text), this rank's rows only, epoch after epoch
                             ->  mixture: next document from the source furthest behind its weighted share
                             ->  tokenizer worker processes (ordered, a few chunks ahead)
                             ->  Packer: fixed rows of seq_len tokens with document ids

Why it is built this way:

* **Exact position.** The mixture is deterministic (characters read per source / weight, smallest next), each
  reader's position is a cursor ``(epoch, file, row)`` and the packer's leftover tokens are few. So the state is
  a few integers plus less than a row and a document of tokens (``state_dict``), and ``load_state_dict``
  continues with the very next token, however far the tokenizer workers had read ahead.
* **Disjoint ranks.** With at least as many shard files as ranks, rank ``r`` reads files ``r, r+W, ...``;
  otherwise every rank reads all files and keeps rows ``i % W == r``. Either way the ranks' documents are
  disjoint and their union is the whole source, and the split depends only on the file list.
* **Document boundaries.** Each document ends with ``<|endoftext|>`` (unless its text already does). A packed row
  carries ``doc_ids``; the model resets RoPE positions, masks attention and zeroes the CLP shift at each change of
  id (``codeflow.model.plt.model.doc_positions``), and the target of a document's last token is ``-1``. A document
  longer than a row continues in the next row (where it starts again at position 0). Rows are disjoint: every
  token is an input exactly once, and the target of a row's last token is the next row's first token when both
  belong to the same document.
* **Bad shards.** A shard that cannot be read (truncated, not Parquet, no text column) is skipped with a warning
  and counted (``stats["corrupt_shards"]``); an empty path or a stage without a text column is a user error.
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from codeflow.errors import CodeflowError
from codeflow.lake import to_fs
from codeflow.sources import InputError, expand_inputs

log = logging.getLogger(__name__)

TEXT_COLUMN = "text"
_MASK64 = (1 << 64) - 1
IO_RETRIES, IO_BACKOFF_S = 3, 1.0  # OSError while reading a shard: retried 1 s, 2 s, 4 s later


class DataError(CodeflowError):
    """Training data a user must fix: nothing to read, no text column, a bad ``--data`` spec."""


# ---- sources ------------------------------------------------------------------------------------------------------

@dataclass
class SourceSpec:
    """One ``--data`` argument: a stage folder, a lake root or a glob, with an optional ``:weight``."""

    url: str
    weight: float | None = None

    @classmethod
    def parse(cls, arg: str) -> SourceSpec:
        """``URL`` or ``URL:weight``; the weight is split off only if it is a number (s3://x keeps its colon)."""
        head, sep, tail = arg.rpartition(":")
        if sep and head and "/" not in tail:
            try:
                weight = float(tail)
            except ValueError:
                return cls(arg)
            if not weight > 0:
                raise DataError(f"--data {arg}: weight must be > 0")
            return cls(head, weight)
        return cls(arg)


@dataclass
class Source:
    """A stage output (one folder of shards) with its mixture weight."""

    name: str
    files: list[str]
    weight: float

    def to_dict(self) -> dict:
        return {"name": self.name, "weight": self.weight, "files": len(self.files)}


def _has_text(url: str) -> bool | None:
    """Whether the shard has a string ``text`` column (None if the file cannot be read)."""
    fs, path = to_fs(url)
    try:
        with fs.open(path, "rb") as f:
            schema = pq.read_schema(f)
    except (OSError, pa.ArrowException):
        return None
    idx = schema.get_field_index(TEXT_COLUMN)
    if idx < 0:
        return False
    kind = schema.field(idx).type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def resolve_sources(specs: Sequence[SourceSpec | str]) -> list[Source]:
    """Stage folders named by ``specs``, each a mixture source named by its last two path parts (``fim/file``).

    A spec pointing at one stage folder is one source (its weight, default 1). A spec pointing at a lake root is
    split into its stage folders (files grouped by parent folder); folders without a ``text`` column (code files)
    are left out there, with a note. Every folder of a lake root gets weight 1 (or the spec's weight): equal
    shares per stage output, which is the LoopCoder mid-training mix of DESIGN.md (commits, file-level FIM and
    repo-level FIM, 40B tokens each) when the lake holds those three. A spec that yields nothing with a text
    column is an error.
    """
    sources: list[Source] = []
    for spec in specs:
        spec = SourceSpec.parse(spec) if isinstance(spec, str) else spec
        try:
            files = expand_inputs([spec.url], suffixes=(".parquet",))
        except InputError as e:
            raise DataError(f"--data {spec.url}: {e}") from None
        groups: dict[str, list[str]] = {}
        for f in files:
            groups.setdefault(posixpath.dirname(f), []).append(f)
        found = []
        for folder, group in sorted(groups.items()):
            probe = next((t for t in map(_has_text, group) if t is not None), None)
            name = "/".join(to_fs(folder)[1].rstrip("/").split("/")[-2:])
            if probe is None:
                log.warning("%s: no readable shard, skipped", folder)
                continue
            if not probe:
                if len(groups) == 1:
                    raise DataError(f"--data {spec.url}: shards have no '{TEXT_COLUMN}' column (train on a stage "
                                    f"that renders text: documents, fim, triplets)")
                log.info("%s: no '%s' column, not used for training", folder, TEXT_COLUMN)
                continue
            found.append(Source(name=name, files=sorted(group), weight=spec.weight or 1.0))
        if not found:
            raise DataError(f"--data {spec.url}: no shards with a '{TEXT_COLUMN}' column")
        sources.extend(found)
    return sources


def split_holdout(sources: list[Source]) -> tuple[list[Source], list[str]]:
    """Take the last shard of the first source with two or more shards out of training, for the eval loss."""
    for i, s in enumerate(sources):
        if len(s.files) >= 2:
            kept = Source(s.name, s.files[:-1], s.weight)
            return sources[:i] + [kept] + sources[i + 1:], [s.files[-1]]
    return sources, []


# ---- reading one source -------------------------------------------------------------------------------------------

def _mix64(x: int) -> int:
    """splitmix64 finaliser: a well-spread 64-bit hash, the same on every machine and Python version."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _permutation(n: int, seed: int, epoch: int) -> list[int]:
    return sorted(range(n), key=lambda i: _mix64((seed * 1_000_003 + epoch) * 1_000_003 + i))


@dataclass
class Cursor:
    """Where a reader resumes: the next row ``row`` of the ``file``-th file of ``epoch``'s file order."""

    epoch: int = 0
    file: int = 0
    row: int = 0

    def as_list(self) -> list[int]:
        return [self.epoch, self.file, self.row]


class ShardReader:
    """This rank's documents of one source, file after file, epoch after epoch (``epochs=None``: forever).

    The file order is reshuffled every epoch from ``(seed, epoch)``; rows inside a file keep their order.
    """

    def __init__(self, source: Source, rank: int, world: int, seed: int, stats: dict[str, Any],
                 bad_files: set[str], epochs: int | None = None, shuffle: bool = True, batch_rows: int = 256):
        self.source, self.seed, self.epochs, self.shuffle = source, seed, epochs, shuffle
        self.stats, self.bad_files, self.batch_rows = stats, bad_files, batch_rows
        if len(source.files) >= world:
            self.files, self.stride, self.offset = source.files[rank::world], 1, 0
        else:
            self.files, self.stride, self.offset = list(source.files), world, rank

    def order(self, epoch: int) -> list[str]:
        if not self.shuffle:
            return self.files
        return [self.files[i] for i in _permutation(len(self.files), self.seed, epoch)]

    def _bad(self, url: str, why: str) -> None:
        if url not in self.bad_files:
            self.bad_files.add(url)
            self.stats["corrupt_shards"] = self.stats.get("corrupt_shards", 0) + 1
            log.warning("skipping unreadable shard %s: %s", url, why)

    def _rows(self, url: str, start: int) -> Iterator[tuple[int, str | None]]:
        """(row index, text) from ``start`` on, retrying I/O errors; stops (after a warning) at bad content.

        Content errors (``ArrowInvalid``: not Parquet, truncated, bad footer) skip the file at once. I/O errors
        (``OSError``: a flaky object store) are retried from the next row with backoff; a file that still fails
        after ``IO_RETRIES`` is skipped and counted like a corrupt one (an outage that takes every file makes the
        source empty, which is an error).
        """
        nxt, attempt = start, 0
        while True:
            try:
                for row, text in self._read_rows(url, nxt):
                    nxt = row + 1
                    yield row, text
                return
            except OSError as e:
                attempt += 1
                if attempt > IO_RETRIES:
                    self._bad(url, f"I/O error after {IO_RETRIES} retries: {type(e).__name__}: {e}")
                    return
                log.warning("%s: %s; retry %d/%d", url, e, attempt, IO_RETRIES)
                time.sleep(IO_BACKOFF_S * 2 ** (attempt - 1))
            except pa.ArrowException as e:
                self._bad(url, f"{type(e).__name__}: {e}")
                return

    def _read_rows(self, url: str, start: int) -> Iterator[tuple[int, str | None]]:
        fs, path = to_fs(url)
        with fs.open(path, "rb") as f:
            pf = pq.ParquetFile(f)
            if pf.schema_arrow.get_field_index(TEXT_COLUMN) < 0:
                self._bad(url, f"no '{TEXT_COLUMN}' column")
                return
            row = 0
            for rg in range(pf.num_row_groups):
                n = pf.metadata.row_group(rg).num_rows
                if row + n <= start:  # skip whole row groups when seeking
                    row += n
                    continue
                for batch in pf.iter_batches(batch_size=self.batch_rows, row_groups=[rg], columns=[TEXT_COLUMN]):
                    for text in batch.column(0).to_pylist():
                        if row >= start:
                            yield row, text
                        row += 1

    def read(self, cursor: Cursor) -> Iterator[tuple[Cursor, str]]:
        """(cursor after this document, text) for this rank's documents from ``cursor`` on."""
        epoch, fpos, row = cursor.epoch, cursor.file, cursor.row
        while self.epochs is None or epoch < self.epochs:
            got, whole_epoch = 0, (fpos, row) == (0, 0)
            files = self.order(epoch)
            for i in range(fpos, len(files)):
                url = files[i]
                if url in self.bad_files:
                    continue
                for r, text in self._rows(url, row if i == fpos else 0):
                    if r % self.stride != self.offset:
                        continue
                    if text is None:
                        self.stats["null_texts"] = self.stats.get("null_texts", 0) + 1
                        continue
                    got += 1
                    yield Cursor(epoch, i, r + 1), text
            if got == 0 and whole_epoch and self.epochs is None:  # repeating forever would spin on nothing
                raise DataError(f"source {self.source.name}: no readable documents for this rank "
                                f"({len(self.files)} file(s), {len(self.bad_files)} unreadable)")
            epoch, fpos, row = epoch + 1, 0, 0


def sample_texts(sources: list[Source], max_bytes: int, max_docs: int | None = None,
                 seed: int = 0) -> tuple[list[str], int]:
    """Up to ``max_bytes`` of text for training a tokenizer: sources taken in turn, so each is represented."""
    stats: dict[str, Any] = {}
    bad: set[str] = set()
    iters = [ShardReader(s, 0, 1, seed, stats, bad, epochs=1).read(Cursor()) for s in sources]
    texts: list[str] = []
    n_bytes = 0
    while iters and n_bytes < max_bytes and (max_docs is None or len(texts) < max_docs):
        for it in list(iters):
            try:
                _, text = next(it)
            except StopIteration:
                iters.remove(it)
                continue
            texts.append(text)
            n_bytes += len(text.encode())
    return texts, n_bytes


# ---- mixture, tokenization, packing -------------------------------------------------------------------------------

def choose_source(used: Sequence[float], weights: Sequence[float], live: Sequence[bool]) -> int:
    """The live source furthest behind its share: smallest characters-read / weight (ties: lowest index).

    Deterministic stride scheduling on text length, so each source's share of the *tokens* (characters are
    their proxy, known before tokenizing) follows its weight, as in the LoopCoder table (40B tokens each),
    rather than its share of documents -- one commit triplet can be a hundred times a FIM sample.
    """
    return min((i for i in range(len(used)) if live[i]), key=lambda i: (used[i] / weights[i], i))


@dataclass
class _Doc:
    k: int
    source: int
    cursor: Cursor
    used: tuple[int, ...]  # characters read per source, this document included
    ids: np.ndarray


@dataclass
class LoaderState:
    """The exact position: next document number, each source's cursor, leftover tokens of the packer."""

    next_doc: int = 0
    cursors: list[list[int]] = field(default_factory=list)
    chars: list[int] = field(default_factory=list)  # characters read per source: the mixture's state
    buf_ids: list[int] = field(default_factory=list)
    buf_docs: list[int] = field(default_factory=list)
    rows: int = 0
    stats: dict[str, int] = field(default_factory=dict)
    bad_files: list[str] = field(default_factory=list)


class PackedLoader:
    """Batches ``{"idx", "targets", "doc_ids"}`` (int64 numpy arrays, ``[batch, seq_len]``) for one DP rank.

    ``num_workers`` > 0 tokenizes in that many worker processes, ``prefetch`` chunks ahead; 0 tokenizes inline.
    ``epochs=None`` repeats the data forever (training); a number makes a finite pass whose last row is padded
    (``doc_ids = -1``, ``targets = -1``) and whose last batch may be short (evaluation, tests).
    """

    def __init__(self, sources: list[Source], tokenizer_json: str, eos_id: int, seq_len: int, batch_size: int,
                 rank: int = 0, world: int = 1, seed: int = 0, num_workers: int = 0, epochs: int | None = None,
                 chunk_docs: int = 64, prefetch: int = 4, shuffle: bool = True):
        if not sources:
            raise DataError("no training sources")
        self.sources, self.seq_len, self.batch_size, self.eos = sources, seq_len, batch_size, eos_id
        self.seed, self.epochs, self.chunk_docs, self.prefetch = seed, epochs, chunk_docs, max(1, prefetch)
        self.tokenizer_json, self.num_workers = tokenizer_json, num_workers
        self.stats: dict[str, int] = {"docs": 0, "tokens": 0, "split_docs": 0, "corrupt_shards": 0}
        self.bad_files: set[str] = set()
        self.readers = [ShardReader(s, rank, world, seed, self.stats, self.bad_files, epochs, shuffle)
                        for s in sources]
        self._pool: ProcessPoolExecutor | None = None
        self._tok = None
        self.load_state_dict(LoaderState(cursors=[[0, 0, 0] for _ in sources]).__dict__)

    # ---- position ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Where the next batch starts (JSON-able). Take it between batches."""
        return LoaderState(next_doc=self._doc_k, cursors=[c.as_list() for c in self._cursors],
                           chars=list(self._chars),
                           buf_ids=self._buf_ids.tolist(), buf_docs=self._buf_docs.tolist(), rows=self._rows,
                           stats=dict(self.stats), bad_files=sorted(self.bad_files)).__dict__

    def load_state_dict(self, state: dict[str, Any]) -> None:
        st = LoaderState(**state)
        if len(st.cursors) != len(self.sources):
            raise DataError(f"loader state has {len(st.cursors)} sources, this run has {len(self.sources)}")
        self._doc_k, self._rows = st.next_doc, st.rows
        self._cursors = [Cursor(*c) for c in st.cursors]
        self._chars = list(st.chars) if st.chars else [0] * len(self.sources)
        self._buf_ids = np.asarray(st.buf_ids, dtype=np.int64)
        self._buf_docs = np.asarray(st.buf_docs, dtype=np.int64)
        if st.stats:
            self.stats.update(st.stats)
        self.bad_files.update(st.bad_files)
        self._pending: deque[tuple[list[tuple[int, int, Cursor]], Future | list[np.ndarray]]] = deque()
        self._ready: deque[_Doc] = deque()
        self._docs_iter = self._documents()
        self._exhausted = False

    def start(self) -> None:
        """Start reading and tokenizing ahead now (worker start-up overlaps the caller's own set-up)."""
        self._fill()

    def position(self) -> str:
        """The state in words, for logs: rows emitted, next document, each source's (epoch, file, row)."""
        cur = ", ".join(f"{s.name}: epoch {c.epoch} file {c.file} row {c.row}"
                        for s, c in zip(self.sources, self._cursors, strict=True))
        return f"{self._rows} rows, next document {self._doc_k} ({cur})"

    # ---- document stream -----------------------------------------------------------------------------------------
    def _documents(self) -> Iterator[tuple[int, int, Cursor, tuple[int, ...], str]]:
        """(k, source, cursor after, characters read per source, text) in mixture order from the position."""
        iters: list[Iterator[tuple[Cursor, str]] | None] = [None] * len(self.sources)
        live = [True] * len(self.sources)
        used = list(self._chars)
        weights = [s.weight for s in self.sources]
        k = self._doc_k
        while any(live):
            s = choose_source(used, weights, live)
            if iters[s] is None:
                iters[s] = self.readers[s].read(self._cursors[s])
            try:
                cursor, text = next(iters[s])
            except StopIteration:  # only in a finite pass: the other sources go on
                live[s] = False
                continue
            used[s] += max(1, len(text))
            yield k, s, cursor, tuple(used), text
            k += 1

    def _encode(self, texts: list[str]) -> Future | list[np.ndarray]:
        from codeflow.model.tokenizer import encode_texts, init_worker

        if self.num_workers <= 0:
            if self._tok is None:
                from tokenizers import Tokenizer

                self._tok = Tokenizer.from_str(self.tokenizer_json)
            return encode_texts(texts, self._tok)
        if self._pool is None:
            # spawn: the trainer process holds torch threads (and maybe CUDA); forking it is not safe
            self._pool = ProcessPoolExecutor(self.num_workers, mp_context=get_context("spawn"),
                                             initializer=init_worker, initargs=(self.tokenizer_json,))
        return self._pool.submit(encode_texts, texts)

    def _fill(self) -> None:
        while not self._exhausted and len(self._pending) < self.prefetch:
            metas, texts = [], []
            for k, s, cursor, used, text in self._docs_iter:
                metas.append((k, s, cursor, used))
                texts.append(text)
                if len(texts) >= self.chunk_docs:
                    break
            else:
                self._exhausted = True
            if texts:
                self._pending.append((metas, self._encode(texts)))

    def _next_doc(self) -> _Doc | None:
        """The next tokenized document in mixture order (None at the end of a finite pass)."""
        if not self._ready:
            self._fill()
            if not self._pending:
                return None
            metas, res = self._pending.popleft()
            ids_list = res.result() if isinstance(res, Future) else res
            self._ready.extend(_Doc(*meta, ids) for meta, ids in zip(metas, ids_list, strict=True))
        self._fill()  # keep the workers busy while the trainer computes
        return self._ready.popleft()

    # ---- packing -------------------------------------------------------------------------------------------------
    def _take(self, doc: _Doc) -> None:
        ids = doc.ids.astype(np.int64)
        if len(ids) == 0 or ids[-1] != self.eos:
            ids = np.append(ids, self.eos)
        self.stats["docs"] += 1
        self.stats["tokens"] += len(ids)
        if len(ids) > self.seq_len:
            self.stats["split_docs"] += 1
        self._buf_ids = np.concatenate([self._buf_ids, ids])
        self._buf_docs = np.concatenate([self._buf_docs, np.full(len(ids), doc.k, dtype=np.int64)])
        self._doc_k = doc.k + 1
        self._cursors[doc.source] = doc.cursor
        self._chars = list(doc.used)

    def _row(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        T = self.seq_len
        need = T + 1  # one token of lookahead: the target of the row's last token
        # Documents are taken one at a time, so the position (cursors + leftover tokens) covers exactly the
        # documents packed so far; those the workers tokenized ahead are read again after a restore.
        while len(self._buf_ids) < need:
            doc = self._next_doc()
            if doc is None:
                break
            self._take(doc)
        n = len(self._buf_ids)
        if n == 0:
            return None
        idx = np.zeros(T, dtype=np.int64)
        docs = np.full(T, -1, dtype=np.int64)
        m = min(T, n)
        idx[:m], docs[:m] = self._buf_ids[:m], self._buf_docs[:m]
        nxt_ids = np.full(T, -1, dtype=np.int64)
        nxt_docs = np.full(T, -2, dtype=np.int64)
        k = min(T, n - 1)
        nxt_ids[:k], nxt_docs[:k] = self._buf_ids[1:k + 1], self._buf_docs[1:k + 1]
        targets = np.where((nxt_docs == docs) & (docs >= 0), nxt_ids, -1)
        self._buf_ids, self._buf_docs = self._buf_ids[m:], self._buf_docs[m:]
        self._rows += 1
        return idx, targets, docs

    def next_batch(self) -> dict[str, np.ndarray] | None:
        """The next ``[batch, seq_len]`` batch, or None when a finite pass is over."""
        rows = []
        for _ in range(self.batch_size):
            r = self._row()
            if r is None:
                break
            rows.append(r)
        if not rows:
            return None
        idx, targets, docs = (np.stack(x) for x in zip(*rows, strict=True))
        return {"idx": idx, "targets": targets, "doc_ids": docs}

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        while (b := self.next_batch()) is not None:
            yield b

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> PackedLoader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
