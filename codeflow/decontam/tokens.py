"""Normalisation and tokens for matching: the same rules on benchmark items and on records, vectorized.

Tokens are cut and hashed straight from the UTF-8 bytes of an Arrow string array with numpy (no per-token
Python object, no regex over the tokens), because tokenization is most of a clean record's cost:

* bytes are *word* bytes (ASCII letters, digits, ``_`` and every byte of a non-ASCII character), ASCII
  whitespace, or *other* (ASCII punctuation and control characters);
* ``prose``: runs of word bytes, ASCII-lowercased; whitespace and punctuation vanish;
* ``code``: comments blanked first (``/* ... */``, whole-line ``//``, and ``#`` followed by a space or the line
  end: Python, shell, Ruby, Perl), then runs of word bytes case-preserved plus every other byte as its own
  token. Whitespace never makes a token, so re-indented and re-wrapped copies give the same stream.

Non-ASCII characters count as word characters (so ``naïve`` is one token and a non-ASCII punctuation mark
joins its neighbours) and only ASCII is lowercased: the same on both sides, so matching is unaffected.

A token's hash folds its bytes eight at a time (one gather per short token), finalized with splitmix64 and its
length; an n-gram's hash is a rolling polynomial over its token hashes (prefix sums in wrapping uint64
arithmetic, so any n costs a few array passes). Each token gets
two hashes: the *raw* one (n-gram and exact-substring matching) and an *abstract* one where identifiers that
are not keywords or common builtins collapse into one symbol, so a copy with renamed variables has the same
abstract stream as the original (the fuzzy MinHash matcher uses it).

Spans for the report come from :func:`token_spans`, a Python regex with the same rules that keeps character
offsets (comments are blanked with spaces of the same length); it only runs on the few records that matched.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from codeflow.dedup.minhash import FOLD, U64, splitmix64

COMMENT = r"(?m)/\*[\s\S]*?\*/|^[ \t]*//.*$|(?:^|[ \t])#(?:[ \t].*)?$"  # one pass, leftmost wins
KEEP = frozenset("""
and as assert async await break case catch class const continue def default del do elif else enum except export
extends false final finally fn for from func function go if impl import in interface is lambda let match mod
namespace new nil none not null or package pass private protected public raise return self static struct super
switch this throw throws true try type typeof undefined use var void while with yield
True False None print len range enumerate zip sorted reversed sum min max abs list dict set tuple str int float bool
map filter any all isinstance append extend pop insert keys values items join split strip format sort
std cout endl push_back System println Math
""".split())

WORD, SPACE, OTHER = 1, 0, 2
BYTE_CLASS = np.array([WORD if b >= 0x80 or chr(b).isalnum() or b == 0x5F else SPACE if chr(b) in " \t\n\r\f\v"
                       else OTHER for b in range(256)], dtype=np.uint8)
ASCII_LOWER = np.array([b + 32 if 0x41 <= b <= 0x5A else b for b in range(256)], dtype=np.uint8)
SEED = U64(0x243F6A8885A308D3)
LONG_TOKEN = 256
WORD_MASK = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=U64)  # the low k bytes of a word
IS_WORD = BYTE_CLASS == WORD
IS_TOKEN = BYTE_CLASS != SPACE
ID_START = np.array([chr(b).isalpha() or b == 0x5F if b < 0x80 else False for b in range(256)], dtype=bool)
_Q = U64(pow(FOLD, -1, 1 << 64))  # FOLD is odd, so it has an inverse mod 2**64
_POWERS: dict[int, np.ndarray] = {}


def _powers(base: int, n: int) -> np.ndarray:
    """``base ** j`` (mod 2**64) for ``j < n``; cached per process and grown by doubling (chunks are bounded)."""
    have = _POWERS.get(base)
    if have is None or len(have) < n:
        size = max(n, 2 * len(have) if have is not None else 1 << 16)
        p = np.full(size, U64(base), dtype=U64)
        p[0] = 1
        _POWERS[base] = have = np.cumprod(p)  # uint64 wraps: exactly the powers mod 2**64
    return have[:n]


def _string_bytes(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(bytes, offsets)`` of a large_string array, zero-copy through its public buffers."""
    n = len(texts)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset:texts.offset + n + 1]
    lo = int(offsets[0]) if n else 0
    data_buf = texts.buffers()[2]
    size = int(offsets[-1]) - lo if n else 0
    data = np.frombuffer(data_buf, dtype=np.uint8)[lo:lo + size] if data_buf is not None and size else \
        np.zeros(0, np.uint8)
    return data, (offsets - lo if n else np.zeros(1, np.int64))


def byte_tokens(texts: pa.Array, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(hashes, first byte, end byte, tokens per text)`` of every token of every text (rules in the module doc).

    Lookup tables turn each byte into what is needed in one pass each (word byte? token byte? its value in the
    hash, lowercased for prose), so a batch costs about ten passes over its bytes.
    """
    data, offsets = _string_bytes(texts)
    word = IS_WORD[data]
    cont = np.empty(len(data), dtype=bool)   # this byte continues the word of the byte before it
    cont[:1] = False
    np.logical_and(word[1:], word[:-1], out=cont[1:])
    cont[offsets[:-1][offsets[:-1] < len(data)]] = False  # words never run across texts
    tok = word if kind == "prose" else IS_TOKEN[data]
    not_cont = ~cont
    first = np.flatnonzero(tok & not_cont)
    last = tok.copy()                        # a token ends where the next byte does not continue it
    last[:-1] &= not_cont[1:]
    end = np.flatnonzero(last) + 1
    if not len(first):
        return np.zeros(0, U64), first, end, np.zeros(len(offsets) - 1, np.int64)
    h = token_hashes(ASCII_LOWER[data] if kind == "prose" else data, first, end)
    counts = np.diff(np.searchsorted(first, offsets)).astype(np.int64)
    return h, first, end, counts


def token_hashes(data: np.ndarray, first: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Hash of the bytes ``data[first:end]`` of every token, read eight bytes at a time.

    Each token is folded over its little-endian 64-bit words (zero-padded), ``h = (h ^ word) * FOLD``, then
    splitmix64 with its length: one gather of eight bytes per token for the short ones (most), one more per
    further eight bytes for the longer ones. Tokens longer than ``LONG_TOKEN`` bytes (a minified blob) are
    hashed with xxh3 one by one instead of costing a pass per eight bytes.
    """
    size = (end - first).astype(np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([data, np.zeros(8, np.uint8)]), 8)

    def words(at: np.ndarray, left: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(windows[at]).view("<u8").ravel() & WORD_MASK[np.minimum(left, 8)]

    h = words(first, size)
    h ^= SEED
    h *= U64(FOLD)
    rows = np.flatnonzero((size > 8) & (size <= LONG_TOKEN))
    at, left = first[rows] + 8, size[rows] - 8
    while len(rows):
        h[rows] = (h[rows] ^ words(at, left)) * U64(FOLD)
        more = left > 8
        rows, at, left = rows[more], at[more] + 8, left[more] - 8
    h ^= size.astype(U64)
    h = splitmix64(h)
    for i in np.flatnonzero(size > LONG_TOKEN).tolist():
        h[i] = xxhash.xxh3_64_intdigest(data[first[i]:end[i]].tobytes())
    return h


def _hash_words(words: list[str], kind: str) -> np.ndarray:
    arr = pa.array(words, pa.large_string())
    h, _, _, counts = byte_tokens(arr, kind)
    if not (counts == 1).all():
        raise ValueError(f"not single tokens: {words}")
    return h


ID_SYMBOL = 0x5D1E5D1E5D1E5D1E  # the abstract identifier: a fixed value no real token hashes to (but by 2**-64)
KEEP_HASHES = np.sort(_hash_words(sorted(KEEP), "code"))
KEEP_FILTER = np.zeros(1 << 16, dtype=bool)
KEEP_FILTER[(KEEP_HASHES >> U64(48)).astype(np.intp)] = True


def blank_comments(text: str) -> str:
    """Comments replaced by spaces of the same length (newlines kept), so token offsets stay valid."""
    def blank(m: re.Match) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))

    return re.sub(COMMENT, blank, text)


def strip_comments(texts: pa.Array) -> pa.Array:
    """The vectorized form of :func:`blank_comments` (a comment becomes one space: same tokens, new offsets)."""
    return pc.replace_substring_regex(texts, pattern=COMMENT, replacement=" ")


def tokenize(texts: pa.Array, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(raw hashes, abstract hashes, tokens per text)`` for a batch of texts of one kind (``code``/``prose``)."""
    texts = pc.fill_null(texts.cast(pa.large_string()), "")
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if kind == "code":
        texts = strip_comments(texts)
    raw, first, end, counts = byte_tokens(texts, kind)
    if kind == "prose" or not len(raw):
        return raw, raw, counts
    data, _ = _string_bytes(texts)
    # identifiers: word tokens that start with an ASCII letter or _ and have no non-ASCII byte, minus KEEP
    is_id = ID_START[data[first]]
    high = data >= 0x80
    if high.any():
        non_ascii = np.zeros(len(data) + 1, dtype=np.int64)
        np.cumsum(high, out=non_ascii[1:])
        is_id &= non_ascii[end] == non_ascii[first]
    cand = np.flatnonzero(is_id)
    h = raw[cand]
    maybe = np.flatnonzero(KEEP_FILTER[(h >> U64(48)).astype(np.intp)])  # a 64 KB table rejects most names
    cand, h = cand[maybe], h[maybe]
    pos = np.minimum(np.searchsorted(KEEP_HASHES, h), len(KEEP_HASHES) - 1)
    is_id[cand[KEEP_HASHES[pos] == h]] = False
    return raw, np.where(is_id, U64(ID_SYMBOL), raw), counts


def prefix_sums(tok: np.ndarray) -> np.ndarray:
    """``acc[i] = sum_{j<i} tok[j] * Q**j`` (mod 2**64): any run of tokens hashes in O(1) from it
    (:func:`window_hashes`); computed once per token stream and shared by every n."""
    acc = np.zeros(len(tok) + 1, dtype=U64)
    np.multiply(tok, _powers(int(_Q), len(tok)), out=acc[1:])
    np.cumsum(acc[1:], out=acc[1:])
    return acc


def window_hashes(acc: np.ndarray, start: np.ndarray, length: np.ndarray | int) -> np.ndarray:
    """Hash of the tokens ``start .. start + length - 1`` (flat positions) of the stream ``acc`` was built from.

    ``sum_j tok[j] * P**(end-1-j)``: the prefix-sum difference times ``P**(end-1)`` (``P * Q == 1``), so the hash
    depends only on the tokens, not on where they are; splitmix64 over it and the length.
    """
    end = start + length
    h = (acc[end] - acc[start]) * _powers(FOLD, len(acc))[end - 1]
    return splitmix64(h ^ np.asarray(length).astype(U64))


def shingles(tok: np.ndarray, counts: np.ndarray, n: int, acc: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every full n-gram of each text (a text shorter than ``n`` has none) and the number per text.

    A rolling polynomial over the token hashes (:func:`window_hashes`): a handful of array passes whatever
    ``n``, where folding token by token costs ``n`` passes. ``acc``: the stream's :func:`prefix_sums`, when
    several n-gram sizes are taken from one stream.
    """
    counts = counts.astype(np.int64)
    n_sh = np.maximum(counts - n + 1, 0)
    total = int(n_sh.sum())
    if total == 0:
        return np.zeros(0, dtype=U64), n_sh
    if acc is None:
        acc = prefix_sums(tok)
    doc_start = np.cumsum(counts) - counts
    sh_offset = np.cumsum(n_sh) - n_sh
    rep = np.repeat(np.arange(len(counts)), n_sh)
    start = doc_start[rep] + (np.arange(total) - sh_offset[rep])
    return window_hashes(acc, start, n), n_sh


def ngrams(tok: np.ndarray, counts: np.ndarray, n: int, acc: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(hash, text index, start token)`` of every full n-gram (:func:`shingles`); texts shorter than ``n`` have
    none."""
    h, n_sh = shingles(tok, counts, n, acc)
    text_of = np.repeat(np.arange(len(counts)), n_sh)
    start = np.arange(len(h)) - (np.cumsum(n_sh) - n_sh)[text_of]
    return h, text_of, start


_CODE_TOKEN = re.compile(r"(?:[A-Za-z0-9_]|[^\x00-\x7f])+|[^A-Za-z0-9_ \t\n\r\f\v]")
_WORD_TOKEN = re.compile(r"(?:[A-Za-z0-9_]|[^\x00-\x7f])+")


def token_spans(text: str, kind: str) -> list[tuple[int, int]]:
    """Character ``(start, end)`` of every token of ``text``, in the order :func:`tokenize` counts them."""
    if kind == "code":
        return [m.span() for m in _CODE_TOKEN.finditer(blank_comments(text))]
    return [m.span() for m in _WORD_TOKEN.finditer(text)]


def normalized_chars(text: str, kind: str) -> int:
    """Length of the text as the matchers see it: comments gone (code), words only (prose), single spaces."""
    if kind == "code":
        return len(" ".join(blank_comments(text).split()))
    return len(" ".join(_WORD_TOKEN.findall(text)))


def char_span(spans: list[tuple[int, int]], first: int, last: int) -> tuple[int, int]:
    """Characters covered by tokens ``first..last`` (inclusive; clamped when the two tokenizers disagree)."""
    if not spans:
        return 0, 0
    first = min(max(first, 0), len(spans) - 1)
    last = min(max(last, first), len(spans) - 1)
    return spans[first][0], spans[last][1]
