"""MinHash signatures and LSH band keys, vectorized over a whole batch of documents.

Why this shape: the slow part of MinHash in Python pipelines is per-document work (a tokenizer call, a hash
call per shingle, a small numpy matrix per document). Here a batch is one flat token array:

1. **Tokens** come out of Arrow's RE2 kernels for the whole batch at once (``words``: runs of letters, digits
   and ``_``, lowercased; ``code``: the same runs case-preserved plus every other non-space character as its
   own token, so ``a+b`` and ``a + b`` shingle alike but ``(`` vs ``[`` differ).
2. **Token hashes**: the batch's tokens are dictionary-encoded and only the *distinct* tokens are hashed
   (xxh3-64 of UTF-8), then gathered back.
3. **Shingles** (n consecutive tokens; a document shorter than n is one shingle of all its tokens) are combined
   from token hashes in numpy: ``h = (h ^ t_j) * M`` per position, then a splitmix64 finalizer with the length.
4. **Permutations**: ``K = bands * rows`` affine maps ``x * a_k + b_k (mod 2**64)`` with odd ``a_k`` (bijections
   of the 64-bit space, seeded from ``seed``), minimized per document with ``np.minimum.reduceat`` over
   chunks of the flat shingle array, so the temporary buffer has a fixed size whatever the document lengths.
5. **Band keys**: each band's ``rows`` values folded the same way into one 64-bit key (stored as int64).

``codeflow.testing.minhash_ref`` computes the same numbers one document at a time in plain Python; a test
checks that both agree bit for bit. A document without tokens has no shingles: its signature is all ones and
it gets no band keys, so empty documents never become near-duplicate candidates (exact dedup handles them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

STAGE = "dedup_minhash"
U64 = np.uint64
MASK64 = (1 << 64) - 1
FOLD = 0x9E3779B97F4A7C15          # odd multiplier used to fold token / row hashes into one
SHINGLE_SEED = 0x243F6A8885A308D3  # start value of a shingle fold
BAND_SEED = 0x13198A2E03707344     # start value of a band fold (xor the band index)
SPACES = r"\t\n\v\f\r "
WORD_CLASS = r"\pL\pN_"
TOKENIZERS = ("auto", "words", "code")
ASCII_PUNCT = "".join(c for c in map(chr, range(33, 127)) if not c.isalnum() and c != "_")


@dataclass(frozen=True)
class MinHashConfig:
    """Near-duplicate settings. ``text_column``/``id_column`` mean the same as in exact dedup.

    ``threshold`` is the Jaccard similarity of shingle sets above which two documents are duplicates: with
    ``verify`` on, a candidate pair from the bands is kept only when the share of equal signature values (an
    unbiased Jaccard estimate) reaches it. ``bands * rows`` is the number of permutations; 14 x 8 puts the
    S-curve's midpoint near (1/14)^(1/8) = 0.72 and detects a 0.8-similar pair with p = 0.92.

    ``tokenizer``: ``words`` for prose, ``code`` for source, ``auto`` picks ``code`` when the text column is
    ``content`` (code-file records) and ``words`` otherwise.

    Keeper rule per cluster (the same on every engine): highest ``score_column`` value, then highest
    ``stars_column`` value (both only when the column exists; nulls last), then smallest id, then input order.
    """

    text_column: str | None = None
    id_column: str = "id"
    ngram: int = 5
    bands: int = 14
    rows: int = 8
    seed: int = 1
    threshold: float = 0.8
    verify: bool = True
    tokenizer: str = "auto"
    score_column: str = "quality_score"
    stars_column: str = "stars"
    memory_limit: str = "2GB"

    def __post_init__(self) -> None:
        if self.ngram < 1 or self.bands < 1 or self.rows < 1:
            raise ValueError("ngram, bands and rows must be >= 1")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"tokenizer must be one of {TOKENIZERS}")

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    @property
    def min_agree(self) -> int:
        """Equal signature values a verified pair needs: ceil(threshold * K)."""
        return math.ceil(self.threshold * self.num_perm - 1e-9)


def resolve_tokenizer(tokenizer: str, text_column: str) -> str:
    if tokenizer != "auto":
        return tokenizer
    return "code" if text_column == "content" else "words"


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)``: odd multipliers and offsets of the K affine permutations, from a seeded PCG64."""
    rng = np.random.Generator(np.random.PCG64(seed))
    a = rng.integers(0, 1 << 64, size=num_perm, dtype=U64, endpoint=False) | U64(1)
    b = rng.integers(0, 1 << 64, size=num_perm, dtype=U64, endpoint=False)
    return a, b


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer on a uint64 array (wrapping arithmetic)."""
    x = x ^ (x >> U64(30))
    x = x * U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> U64(27))
    x = x * U64(0x94D049BB133111EB)
    return x ^ (x >> U64(31))


def token_table(texts: pa.Array, mode: str) -> tuple[pa.Array, np.ndarray]:
    """Flat tokens of all documents and the token count of each document.

    Regex kernels are the slow part, so they only see what needs them: a fast ASCII-whitespace split
    first, then the regex split only for the pieces that are not all ASCII letters and digits. Both steps
    split at separators of the final tokens, so the result is the same as one RE2 regex over the whole text.
    (RE2's Unicode tables lag the newest additions, e.g. some cuneiform, hieroglyph and Tangut/Khitan
    extensions: for those code points the ``regex``-based reference may count a letter that RE2 does not.)
    """
    if mode not in ("words", "code"):
        raise ValueError(f"unknown tokenizer {mode!r}")
    texts = pc.fill_null(texts.cast(pa.large_string()), "")
    pieces_lists = pc.ascii_split_whitespace(texts)
    pieces = pc.list_flatten(pieces_lists)
    parents = pc.list_parent_indices(pieces_lists).to_numpy()
    if mode == "words":
        # prose: "end." / "(aside" -> strip ASCII punctuation at the ends; if what is left is ASCII letters and
        # digits (or nothing), that is the piece's only token, exactly what the regex split would give
        trimmed = pc.ascii_trim(pieces, characters=ASCII_PUNCT)
        ok = pc.or_(pc.ascii_is_alnum(trimmed), pc.equal(pc.binary_length(trimmed), 0))
        pieces = pc.if_else(ok, trimmed, pieces)
    else:
        ok = pc.ascii_is_alnum(pieces)
    # all ASCII letters/digits -> already a final token (every Unicode table agrees on ASCII); the rest -> RE2
    dirty = pc.invert(ok).to_numpy(zero_copy_only=False)
    if dirty.any():
        sub_in = pieces.filter(pa.array(dirty))
        if mode == "code":
            sub_in = pc.replace_substring_regex(sub_in, pattern=f"([^{WORD_CLASS}])", replacement=r" \1 ")
            sub = pc.split_pattern_regex(sub_in, pattern=f"[{SPACES}]+")
        else:
            sub = pc.split_pattern_regex(sub_in, pattern=f"[^{WORD_CLASS}]+")
        sub_len = pc.list_value_length(sub).to_numpy().astype(np.int64)
        n = len(pieces)
        per = np.ones(n, dtype=np.int64)
        per[dirty] = sub_len
        first = np.arange(n, dtype=np.int64)
        first[dirty] = n + np.cumsum(sub_len) - sub_len
        total = int(per.sum())
        idx = np.repeat(first, per) + (np.arange(total) - np.repeat(np.cumsum(per) - per, per))
        flat = pa.concat_arrays([pieces, pc.list_flatten(sub)]).take(pa.array(idx))
        parents = np.repeat(parents, per)
    else:
        flat = pieces
    keep = pc.not_equal(pc.binary_length(flat), 0)  # empty texts and split edges give empty strings
    flat = flat.filter(keep)
    parents = parents[keep.to_numpy(zero_copy_only=False)]
    counts = np.bincount(parents, minlength=len(texts)).astype(np.int64)
    return flat, counts


def token_hashes(tokens: pa.Array, lower: bool) -> np.ndarray:
    """xxh3-64 of every token (lowercased for prose), hashing each distinct token once."""
    if len(tokens) == 0:
        return np.zeros(0, dtype=U64)
    enc = tokens.dictionary_encode()
    words = enc.dictionary.to_pylist()
    xx = xxhash.xxh3_64_intdigest
    values = [xx(w.lower().encode("utf-8")) for w in words] if lower else [xx(w.encode("utf-8")) for w in words]
    return np.array(values, dtype=U64)[enc.indices.to_numpy()]


def shingle_hashes(tok: np.ndarray, counts: np.ndarray, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hash of every shingle and the number of shingles of each document."""
    counts = counts.astype(np.int64)
    n_sh = np.where(counts >= ngram, counts - ngram + 1, np.minimum(counts, 1))
    length = np.minimum(counts, ngram)
    total = int(n_sh.sum())
    if total == 0:
        return np.zeros(0, dtype=U64), n_sh
    doc_start = np.cumsum(counts) - counts
    sh_offset = np.cumsum(n_sh) - n_sh
    rep_doc = np.repeat(np.arange(len(counts)), n_sh)
    start = doc_start[rep_doc] + (np.arange(total) - sh_offset[rep_doc])
    lens = length[rep_doc]
    h = np.full(total, SHINGLE_SEED, dtype=U64)
    last = len(tok) - 1
    for j in range(ngram):  # full-length fold for every shingle (indices clipped at the end of the array)
        h ^= tok[np.minimum(start + j, last)]
        h *= U64(FOLD)
    short = np.flatnonzero(lens < ngram)  # documents shorter than ngram: refold over their own tokens only
    if len(short):
        hs = np.full(len(short), SHINGLE_SEED, dtype=U64)
        s_start, s_len = start[short], lens[short]
        for j in range(int(s_len.max())):
            folded = (hs ^ tok[np.minimum(s_start + j, last)]) * U64(FOLD)
            hs = np.where(j < s_len, folded, hs)
        h[short] = hs
    return splitmix64(h ^ lens.astype(U64)), n_sh


def signatures(shingles: np.ndarray, n_sh: np.ndarray, a: np.ndarray, b: np.ndarray,
               chunk: int = 1 << 15) -> np.ndarray:
    """Per-document minimum of every permutation over its shingles; all ones for documents without any.

    One permutation at a time over a cache-sized chunk of the flat shingle array (in-place multiply-add into
    one buffer, then ``minimum.reduceat`` at document boundaries): about 4x faster than an (n, K) matrix per
    chunk, and the memory is one chunk whatever the batch.
    """
    n_docs, k = len(n_sh), len(a)
    sig = np.full((k, n_docs), MASK64, dtype=U64)
    if len(shingles) == 0:
        return np.ascontiguousarray(sig.T)
    doc_of = np.repeat(np.arange(n_docs), n_sh)
    buf = np.empty(min(chunk, len(shingles)), dtype=U64)
    for lo in range(0, len(shingles), chunk):
        hi = min(lo + chunk, len(shingles))
        x, v = shingles[lo:hi], buf[: hi - lo]
        docs = doc_of[lo:hi]
        starts = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]])
        seg_docs = docs[starts]
        for p in range(k):
            np.multiply(x, a[p], out=v)
            v += b[p]
            row = sig[p]
            row[seg_docs] = np.minimum(row[seg_docs], np.minimum.reduceat(v, starts))
    return np.ascontiguousarray(sig.T)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``(n_docs, bands)`` int64 keys: each band's ``rows`` values folded and finalized."""
    n = sig.shape[0]
    cube = sig[:, : bands * rows].reshape(n, bands, rows)
    h = np.broadcast_to(np.arange(bands, dtype=U64) ^ U64(BAND_SEED), (n, bands)).copy()
    for j in range(rows):
        h = (h ^ cube[:, :, j]) * U64(FOLD)
    return splitmix64(h).view(np.int64)


@dataclass
class Signed:
    """Signatures of one batch: ``sig`` (n, K) uint64, ``keys`` (n, bands) int64, ``n_shingles`` (n,)."""

    sig: np.ndarray
    keys: np.ndarray
    n_shingles: np.ndarray


def sign_texts(texts: pa.Array, cfg: MinHashConfig, mode: str) -> Signed:
    """Signatures and band keys for a batch of texts with tokenizer ``mode`` (``words`` or ``code``)."""
    tokens, counts = token_table(texts, mode)
    tok = token_hashes(tokens, lower=mode == "words")
    shingles, n_sh = shingle_hashes(tok, counts, cfg.ngram)
    a, b = permutations(cfg.num_perm, cfg.seed)
    sig = signatures(shingles, n_sh, a, b)
    return Signed(sig, band_keys(sig, cfg.bands, cfg.rows), n_sh)


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    return float(np.mean(sig_a == sig_b))
