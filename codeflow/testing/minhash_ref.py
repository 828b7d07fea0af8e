"""Plain-Python MinHash: one document at a time, Python ints, the ``regex`` module for tokens.

The specification the vectorized ``codeflow.dedup.minhash`` must match bit for bit (a test compares them),
written for reading rather than speed, and used as ground truth for exact shingle-set Jaccard in tests and
the benchmark.
"""

from __future__ import annotations

import regex
import xxhash

from codeflow.dedup.minhash import BAND_SEED, FOLD, MASK64, SHINGLE_SEED, SPACES, WORD_CLASS, permutations

WORD_RE = regex.compile(f"[{WORD_CLASS}]+")
CODE_RE = regex.compile(f"[{WORD_CLASS}]+|[^{WORD_CLASS}{SPACES}]")


def mix(x: int) -> int:
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def tokens(text: str, mode: str) -> list[str]:
    if mode == "words":
        return [t.lower() for t in WORD_RE.findall(text)]
    return CODE_RE.findall(text)


def shingles(text: str, mode: str, ngram: int) -> set[int]:
    """The document's shingle hashes as a set (what Jaccard similarity is defined over)."""
    toks = [xxhash.xxh3_64_intdigest(t.encode("utf-8")) for t in tokens(text, mode)]
    if not toks:
        return set()
    spans = [toks[i:i + ngram] for i in range(len(toks) - ngram + 1)] if len(toks) >= ngram else [toks]
    out = set()
    for span in spans:
        h = SHINGLE_SEED
        for t in span:
            h = ((h ^ t) * FOLD) & MASK64
        out.add(mix(h ^ len(span)))
    return out


def signature(text: str, mode: str, ngram: int, num_perm: int, seed: int) -> list[int]:
    a, b = permutations(num_perm, seed)
    sh = shingles(text, mode, ngram)
    return [min(((x * int(ak) + int(bk)) & MASK64 for x in sh), default=MASK64) for ak, bk in zip(a, b, strict=True)]


def band_keys(sig: list[int], bands: int, rows: int) -> list[int]:
    keys = []
    for band in range(bands):
        h = band ^ BAND_SEED
        for v in sig[band * rows:(band + 1) * rows]:
            h = ((h ^ v) * FOLD) & MASK64
        k = mix(h)
        keys.append(k - (1 << 64) if k >= 1 << 63 else k)
    return keys


def jaccard(a: set[int], b: set[int]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)
