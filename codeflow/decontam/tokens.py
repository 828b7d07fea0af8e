"""Normalisation and tokens for matching: the same rules on benchmark items and on records, vectorized.

Two token streams, both from MinHash dedup's Arrow tokenizer (``codeflow.dedup.minhash.token_table``), so a batch
is tokenized with RE2 kernels in one go and only distinct tokens are hashed:

* ``prose`` (``words`` mode): runs of letters, digits and ``_``, lowercased; whitespace and punctuation vanish.
* ``code``: comments blanked first (``/* ... */``, whole-line ``//``, and ``#`` followed by a space or the line
  end: Python, shell, Ruby, Perl), then word runs case-preserved plus every other non-space character as its
  own token. Whitespace never makes a token, so re-indented and re-wrapped copies give the same stream.

Each token gets two hashes: the *raw* one (n-gram and exact-substring matching) and an *abstract* one where
identifiers that are not keywords or common builtins collapse into one symbol, so a copy with renamed variables
has the same abstract stream as the original (the fuzzy MinHash matcher uses it).

Spans for the report come from :func:`token_spans`, a Python tokenizer with the same rules that keeps character
offsets (comments are blanked with spaces of the same length); it only runs on the few records that matched.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from codeflow.dedup.minhash import U64, shingle_hashes, token_table

MODES = {"code": "code", "prose": "words"}
COMMENT = r"(?m)/\*[\s\S]*?\*/|^[ \t]*//.*$|(?:^|[ \t])#(?:[ \t].*)?$"  # one pass, leftmost wins
ID_SYMBOL = xxhash.xxh3_64_intdigest(b"\x00<identifier>")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
KEEP = frozenset("""
and as assert async await break case catch class const continue def default del do elif else enum except export
extends false final finally fn for from func function go if impl import in interface is lambda let match mod
namespace new nil none not null or package pass private protected public raise return self static struct super
switch this throw throws true try type typeof undefined use var void while with yield
True False None print len range enumerate zip sorted reversed sum min max abs list dict set tuple str int float bool
map filter any all isinstance append extend pop insert keys values items join split strip format sort
std cout endl push_back System println Math
""".split())


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
    if kind == "code":
        texts = strip_comments(texts)
    tokens, counts = token_table(texts, MODES[kind])
    if len(tokens) == 0:
        z = np.zeros(0, dtype=U64)
        return z, z, counts
    enc = tokens.dictionary_encode()
    words = enc.dictionary.to_pylist()
    xx = xxhash.xxh3_64_intdigest
    if kind == "prose":
        raw = np.array([xx(w.lower().encode("utf-8")) for w in words], dtype=U64)
        abstract = raw
    else:
        raw = np.array([xx(w.encode("utf-8")) for w in words], dtype=U64)
        is_id = np.array([bool(_IDENT.match(w)) and w not in KEEP for w in words], dtype=bool)
        abstract = np.where(is_id, U64(ID_SYMBOL), raw)
    idx = enc.indices.to_numpy()
    return raw[idx], abstract[idx], counts


def ngrams(tok: np.ndarray, counts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(hash, text index, start token)`` of every full n-gram; texts shorter than ``n`` have none.

    The hash is MinHash dedup's shingle fold, so an n-gram hashes the same in an item and in a record.
    """
    h, n_sh = shingle_hashes(tok, counts, n)
    text_of = np.repeat(np.arange(len(counts)), n_sh)
    first = np.cumsum(n_sh) - n_sh
    start = np.arange(len(h)) - first[text_of]
    full = counts[text_of] >= n
    return h[full], text_of[full], start[full]


_CODE_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD_TOKEN = re.compile(r"[^\W]+")


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
