"""The benchmark index: every selected benchmark item turned into lookup tables, built once per run.

It is the stage's side input. The driver builds it, writes it to ``OUT/_work/decontam_index.pkl`` and puts its
content hash into the stage config, so the hash is part of the run's identity: resuming into an output written
against other benchmark data (or other matcher settings) is refused like any other config change. Workers load
the file once per process.

Per kind (``code``, ``prose``) it holds, over segments (one benchmark field of one item):

* **n-grams**: sorted distinct n-gram hashes with postings ``(segment, first position)``, and per segment the
  number of distinct n-grams, the denominator of the overlap share;
* **exact substrings**: segments whose normalised text has at least ``min_substring_chars`` characters, or that
  are shorter than ``n`` tokens (those are matched by exact substring only): an anchor hash of their first
  ``ANCHOR`` tokens and the whole token sequence to verify a hit;
* **MinHash** (code segments): signatures (``minhash.py``'s permutations and minima) of the abstract-token
  shingles of segments with at least ``fuzzy_min_tokens`` tokens, LSH band keys, and the window size in blocks
  each one is compared at;
* **embeddings** (only when the embedding matcher is on): one L2-normalised vector per segment.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa

from codeflow.decontam.benchmarks import Benchmark, Item, load_items
from codeflow.decontam.tokens import ngrams, normalized_chars, prefix_sums, shingles, tokenize, window_hashes
from codeflow.dedup.minhash import BAND_SEED, FOLD, MASK64, U64, permutations, signatures, splitmix64

ANCHOR = 6            # tokens hashed to find exact-substring candidates
MIN_SUBSTRING_TOKENS = 8  # shorter fields ("return true; }" once comments are gone) are never looked for
BLOCK = 8             # shingles per MinHash block (window starts move in steps of one block)
WINDOW_SIZES = tuple(sorted({max(1, round(1.2 ** k)) for k in range(32)}))  # blocks; ratio <= 1.2 from 5 up


@dataclass(frozen=True)
class MatchConfig:
    """Matcher settings; all of them go into the index hash (and so the run identity)."""

    matchers: tuple[str, ...] = ("ngram", "substring", "minhash")
    code_n: int = 10
    prose_n: int = 13
    ngram_threshold: float = 0.5
    max_ngram_segments: int = 50
    min_ngrams: int = 8
    min_substring_chars: int = 40
    fuzzy_shingle: int = 5
    fuzzy_bands: int = 8
    fuzzy_rows: int = 4
    fuzzy_threshold: float = 0.75
    fuzzy_min_tokens: int = 64
    fuzzy_prefilter_n: int = 10
    fuzzy_prefilter_share: float = 0.3
    fuzzy_prefilter_max_segments: int = 8
    seed: int = 1
    encoder: str = "hashing"
    embedding_threshold: float = 0.92
    embedding_window_chars: int = 1500

    def n(self, kind: str) -> int:
        return self.code_n if kind == "code" else self.prose_n

    def threshold(self, matcher: str) -> float:
        return {"ngram": self.ngram_threshold, "substring": 1.0, "minhash": self.fuzzy_threshold,
                "embedding": self.embedding_threshold}[matcher]


MATCHERS = ("ngram", "substring", "minhash", "embedding")


@dataclass
class KindIndex:
    """Lookup tables of the segments of one kind; arrays index segments by their global number."""

    ngram_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, U64))
    ngram_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    ngram_seg: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    ngram_pos: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    sub_keys: dict[int, np.ndarray] = field(default_factory=dict)      # anchor length -> sorted anchor hashes
    sub_targets: dict[int, np.ndarray] = field(default_factory=dict)   # anchor length -> segment per key
    sub_hash: np.ndarray = field(default_factory=lambda: np.zeros(0, U64))  # per segment: hash of all its tokens
    fuzzy_sig: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), U64))
    fuzzy_seg: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    fuzzy_m: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    fuzzy_keys: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # m -> (keys, row)
    pre_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, U64))     # fuzzy pre-filter postings
    pre_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    pre_seg: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    pre_total: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # per segment
    pre_filter: np.ndarray | None = None
    fuzzy_filter: np.ndarray | None = None
    ngram_filter: np.ndarray | None = None
    sub_filter: np.ndarray | None = None

    def build_filters(self) -> None:
        """The bitmaps are derived data (16 MB each): rebuilt after loading instead of pickled."""
        self.ngram_filter = key_filter(self.ngram_keys)
        self.sub_filter = key_filter(np.concatenate([np.zeros(0, U64), *self.sub_keys.values()]))
        if self.fuzzy_keys:
            self.fuzzy_filter = key_filter(np.concatenate([k for k, _ in self.fuzzy_keys.values()]))
        self.pre_filter = key_filter(self.pre_keys)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not k.endswith("_filter")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.build_filters()


@dataclass
class DecontamIndex:
    config: MatchConfig
    benchmarks: list[dict]                  # name, description, license, items, short segments
    items: list[tuple[str, str]]            # (benchmark, task_id)
    seg_item: np.ndarray                    # segment -> item
    seg_field: list[str]
    seg_kind: list[str]
    seg_text: list[str]
    seg_tokens: list[np.ndarray]            # raw token hashes (verification of substring hits)
    seg_total: np.ndarray                   # distinct n-grams per segment (0: shorter than n)
    kinds: dict[str, KindIndex]
    embeddings: np.ndarray | None
    content_hash: str

    def short_segments(self) -> int:
        return int((self.seg_total == 0).sum())


TOKENS_VERSION = 3  # bumped whenever tokens or hashes change: an index built with other hashes is another index


def _content_hash(cfg: MatchConfig, items: list[Item]) -> str:
    h = hashlib.sha256(json.dumps({**asdict(cfg), "tokens_version": TOKENS_VERSION}, sort_keys=True).encode())
    for it in items:
        for part in (it.benchmark, it.task_id, *(x for seg in it.segments for x in seg)):
            b = part.encode("utf-8", "surrogatepass")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
    return h.hexdigest()[:16]


def _sorted_postings(keys: np.ndarray, *vals: np.ndarray) -> tuple[np.ndarray, ...]:
    order = np.lexsort((*reversed(vals), keys)) if vals else np.argsort(keys, kind="stable")
    return (keys[order], *(v[order] for v in vals))


def window_blocks(n_shingles: int) -> int:
    """The window size (in blocks) a segment with ``n_shingles`` shingles is compared at."""
    need = max(1.0, n_shingles / BLOCK)
    return min(WINDOW_SIZES, key=lambda m: (abs(math.log(m / need)), m))


def fuzzy_band_keys(sig_t: np.ndarray, m: int, cfg: MatchConfig) -> np.ndarray:
    """``(bands, n)`` LSH keys of signatures given column-wise (``(K, n)``, the layout windows come in).

    The fold is MinHash dedup's band fold; ``m`` (the window size) is folded into the seed, so windows of one
    size only ever meet segments compared at that size.
    """
    rows, bands = cfg.fuzzy_rows, cfg.fuzzy_bands
    h = np.empty((bands, sig_t.shape[1]), dtype=U64)
    for band in range(bands):
        acc = np.full(sig_t.shape[1], U64(BAND_SEED ^ band ^ (m << 20)), dtype=U64)
        for j in range(rows):
            acc ^= sig_t[band * rows + j]
            acc *= U64(FOLD)
        h[band] = acc
    return splitmix64(h)


FILTER_BITS = 24  # at most 16 MB per filter


def key_filter(keys: np.ndarray) -> np.ndarray:
    """A one-hash bitmap over sorted-table keys: a cheap gather rejects almost every query before the lookup.

    Sized to about 16 slots per key (a few % false hits), and no larger: a bitmap that fits the CPU cache
    makes the gather several times cheaper than a 16 MB one on a small index.
    """
    bits = min(FILTER_BITS, max(12, int(len(keys) * 16).bit_length()))
    bitmap = np.zeros(1 << bits, dtype=bool)
    bitmap[(keys >> U64(64 - bits)).astype(np.int64)] = True
    return bitmap


def _prefilter(ki: KindIndex, tok: np.ndarray, counts: np.ndarray, segs: np.ndarray, n_seg: int,
               cfg: MatchConfig) -> None:
    """Postings of the fuzzy segments' *abstract* n-grams: the MinHash windows only run on records that hold
    ``fuzzy_prefilter_share`` of some segment's n-grams.

    A renamed, re-indented or commented copy has the very abstract stream of its original, so it holds all of
    them; a clean file almost never holds a third of one item's. n-grams shared by more than
    ``fuzzy_prefilter_max_segments`` segments are generic code and prove nothing; a segment left with fewer than
    ``min_ngrams`` distinctive ones has no postings, so it is never a fuzzy candidate (the exact matchers still
    see it; :func:`build_index` counts them).
    """
    h, text_of, _ = ngrams(tok, counts, cfg.fuzzy_prefilter_n)
    seg_of = segs[text_of].astype(np.int64)
    h, seg_of = _sorted_postings(h, seg_of)
    first = np.r_[True, (h[1:] != h[:-1]) | (seg_of[1:] != seg_of[:-1])] if len(h) else np.zeros(0, bool)
    h, seg_of = h[first], seg_of[first]
    _, inverse, per_key = np.unique(h, return_inverse=True, return_counts=True)
    keep = per_key[inverse] <= cfg.fuzzy_prefilter_max_segments
    h, seg_of = h[keep], seg_of[keep]
    per_seg = np.bincount(seg_of, minlength=n_seg)
    keep = per_seg[seg_of] >= cfg.min_ngrams
    h, seg_of = h[keep], seg_of[keep]
    keys, ptr = np.unique(h, return_index=True)
    ki.pre_keys, ki.pre_ptr, ki.pre_seg = keys, np.r_[ptr, len(h)].astype(np.int64), seg_of.astype(np.int32)
    ki.pre_total = np.bincount(seg_of, minlength=n_seg).astype(np.int64)


def build_index(benchmarks: list[Benchmark], cfg: MatchConfig) -> DecontamIndex:
    items: list[Item] = []
    for b in benchmarks:
        items.extend(load_items(b))
    seg_item, seg_field, seg_kind, seg_text = [], [], [], []
    for i, it in enumerate(items):
        for fname, kind, text in it.segments:
            seg_item.append(i)
            seg_field.append(fname)
            seg_kind.append(kind)
            seg_text.append(text)
    n_seg = len(seg_text)
    seg_tokens: list[np.ndarray] = [np.zeros(0, U64)] * n_seg
    seg_total = np.zeros(n_seg, dtype=np.int64)
    kinds: dict[str, KindIndex] = {}
    a, b_ = permutations(cfg.fuzzy_bands * cfg.fuzzy_rows, cfg.seed)
    for kind in ("code", "prose"):
        segs = np.array([s for s in range(n_seg) if seg_kind[s] == kind], dtype=np.int64)
        if not len(segs):
            continue
        n = cfg.n(kind)
        raw, abstract, counts = tokenize(pa.array([seg_text[s] for s in segs], pa.large_string()), kind)
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for j, s in enumerate(segs):
            seg_tokens[s] = raw[bounds[j]:bounds[j + 1]]
        ki = KindIndex()
        # n-grams: distinct (hash, segment) pairs, first position kept
        h, text_of, start = ngrams(raw, counts, n)
        seg_of = segs[text_of]
        if len(h):
            h, seg_of, start = _sorted_postings(h, seg_of.astype(np.int64), start.astype(np.int64))
            first = np.r_[True, (h[1:] != h[:-1]) | (seg_of[1:] != seg_of[:-1])]
            h, seg_of, start = h[first], seg_of[first], start[first]
            # boilerplate n-grams (Java import blocks shared by a thousand MBXP prompts) prove nothing: dropped,
            # and not counted in any segment's denominator
            keys, inverse, per_key = np.unique(h, return_inverse=True, return_counts=True)
            distinctive = per_key[inverse] <= cfg.max_ngram_segments
            h, seg_of, start = h[distinctive], seg_of[distinctive], start[distinctive]
            # a handful of shared n-grams is an idiom as often as a copy ("re.sub(r'\s+', '', text)"): a match
            # needs min_ngrams of them, so a field with fewer is left to the exact-substring matcher, like a
            # field shorter than n
            per_seg = np.bincount(seg_of, minlength=n_seg)
            enough = per_seg[seg_of] >= cfg.min_ngrams
            h, seg_of, start = h[enough], seg_of[enough], start[enough]
            seg_total[:] += np.bincount(seg_of, minlength=n_seg)
            keys, ptr = np.unique(h, return_index=True)
            ki.ngram_keys, ki.ngram_ptr = keys, np.r_[ptr, len(h)].astype(np.int64)
            ki.ngram_seg, ki.ngram_pos = seg_of.astype(np.int32), start.astype(np.int32)
        # exact substrings: long-enough normalised segments and every segment shorter than n
        sub = [int(s) for s in segs if len(seg_tokens[s]) >= MIN_SUBSTRING_TOKENS
               and normalized_chars(seg_text[s], kind) >= cfg.min_substring_chars]
        if sub:
            full = np.array([len(seg_tokens[s]) for s in sub], dtype=np.int64)
            ki.sub_hash = np.zeros(n_seg, dtype=U64)
            ki.sub_hash[sub] = window_hashes(prefix_sums(np.concatenate([seg_tokens[s] for s in sub])),
                                             np.cumsum(full) - full, full)
            lens = np.minimum(full, ANCHOR)
            for length in np.unique(lens).tolist():
                rows = np.flatnonzero(lens == length)
                # one hash per segment: the n-gram of its first `length` tokens
                anchors = np.zeros(len(sub), dtype=U64)
                anchors[rows] = shingles(np.concatenate([seg_tokens[sub[r]][:length] for r in rows]),
                                         lens[rows], length)[0]
                order = rows[np.argsort(anchors[rows], kind="stable")]
                ki.sub_keys[length] = anchors[order]
                ki.sub_targets[length] = np.array(sub, dtype=np.int64)[order]
        # MinHash over abstract-token shingles, one signature per long-enough segment
        if "minhash" in cfg.matchers and kind == "code":
            long_idx = [j for j in range(len(segs)) if counts[j] >= cfg.fuzzy_min_tokens]
            if long_idx:
                sub_counts = counts[long_idx]
                sub_tok = np.concatenate([abstract[bounds[j]:bounds[j + 1]] for j in long_idx])
                sh, n_sh = shingles(sub_tok, sub_counts, cfg.fuzzy_shingle)
                _prefilter(ki, sub_tok, sub_counts, segs[long_idx], n_seg, cfg)
                sig = signatures(sh, n_sh, a, b_)
                ki.fuzzy_sig = sig
                ki.fuzzy_seg = segs[long_idx].astype(np.int32)
                ki.fuzzy_m = np.array([window_blocks(int(x)) for x in n_sh], dtype=np.int32)
                for m in np.unique(ki.fuzzy_m):
                    rows = np.flatnonzero(ki.fuzzy_m == m)
                    keys = fuzzy_band_keys(np.ascontiguousarray(sig[rows].T), int(m), cfg)  # (bands, n)
                    flat_keys = keys.ravel()
                    flat_rows = np.tile(rows, keys.shape[0])
                    order = np.argsort(flat_keys, kind="stable")
                    ki.fuzzy_keys[int(m)] = (flat_keys[order], flat_rows[order])
        ki.build_filters()
        kinds[kind] = ki
    embeddings = None
    if "embedding" in cfg.matchers:
        from codeflow.decontam.embed import embed_texts

        embeddings = embed_texts(seg_text, cfg)
    short = np.zeros(len(items), dtype=np.int64)
    for s in range(n_seg):
        if seg_total[s] == 0:
            short[seg_item[s]] += 1
    meta = []
    for bench in benchmarks:
        idx = [i for i, it in enumerate(items) if it.benchmark == bench.name]
        meta.append({"name": bench.name, "description": bench.description, "license": bench.license,
                     "file": bench.file() if not bench.bundled else f"bundled:{bench.name}",
                     "items": len(idx), "short_segments": int(short[idx].sum()) if idx else 0,
                     "fields": [f for f, _ in bench.fields]})
    return DecontamIndex(cfg, meta, [(it.benchmark, it.task_id) for it in items], np.array(seg_item, np.int64),
                         seg_field, seg_kind, seg_text, seg_tokens, seg_total, kinds, embeddings,
                         _content_hash(cfg, items))


def save_index(index: DecontamIndex, path: str) -> None:
    from codeflow.lake import atomic_write_bytes, to_fs

    fs, p = to_fs(path)
    atomic_write_bytes(fs, p, pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL))


_LOADED: dict[tuple[str, str], DecontamIndex] = {}


def load_index(path: str, content_hash: str) -> DecontamIndex:
    """The index written by the driver, cached per process; a file with another content hash is a bug."""
    key = (path, content_hash)
    if key not in _LOADED:
        from codeflow.lake import to_fs

        fs, p = to_fs(path)
        with fs.open(p, "rb") as f:
            index = pickle.load(f)  # noqa: S301 - our own file, written by this run's driver
        if index.content_hash != content_hash:
            raise RuntimeError(f"index {path} has content hash {index.content_hash}, the run expects {content_hash}")
        _LOADED[key] = index
    return _LOADED[key]


__all__ = ["MASK64", "MATCHERS", "DecontamIndex", "MatchConfig", "build_index", "load_index", "save_index"]
