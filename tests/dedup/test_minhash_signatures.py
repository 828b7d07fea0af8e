"""The vectorized MinHash equals the plain reference bit for bit, and estimates Jaccard without bias."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from codeflow.dedup.minhash import MinHashConfig, sign_texts
from codeflow.testing import minhash_ref

TEXTS = [
    "", "   \n\t ", "one", "Hello, World! café ÉCOLE naïve 東京タワー is big",
    "def f(a, b):\n    return a+b  # sum\n", "x\u00a0y\u2028z İstanbul ǅemal ß", "!!!", "a b c d e f g h i j k l",
    "for (int i = 0; i < n; ++i) { s += a[i]; }",
]
ALPHABET = st.sampled_from(list("abcXYZ019_ \n\t\v\f\r.,;(){}+-*/=\"'#é東ßİ\u00a0\u2028\u3000")
                           + ["foo", "Bar ", "δ", "x.y"])


def check_equal(texts: list[str], cfg: MinHashConfig, mode: str) -> None:
    signed = sign_texts(pa.array(texts), cfg, mode)
    for i, text in enumerate(texts):
        ref = minhash_ref.signature(text, mode, cfg.ngram, cfg.num_perm, cfg.seed)
        assert [int(v) for v in signed.sig[i]] == ref, (mode, text)
        assert [int(v) for v in signed.keys[i]] == minhash_ref.band_keys(ref, cfg.bands, cfg.rows), (mode, text)
        assert signed.n_shingles[i] > 0 or not minhash_ref.tokens(text, mode)


def test_vectorized_equals_reference_on_fixed_texts():
    for mode in ("words", "code"):
        for cfg in (MinHashConfig(), MinHashConfig(ngram=2, bands=3, rows=5, seed=42), MinHashConfig(ngram=1)):
            check_equal(TEXTS, cfg, mode)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(ALPHABET, max_size=40).map("".join), min_size=1, max_size=6),
       st.sampled_from(["words", "code"]), st.integers(1, 6), st.integers(0, 2**32))
def test_vectorized_equals_reference_on_random_texts(texts, mode, ngram, seed):
    check_equal(texts, MinHashConfig(ngram=ngram, bands=4, rows=4, seed=seed), mode)


def test_empty_and_one_token_docs_have_no_or_one_shingle():
    signed = sign_texts(pa.array(["", "word", None]), MinHashConfig(), "words")
    assert list(signed.n_shingles) == [0, 1, 0]
    assert (signed.sig[0] == np.iinfo(np.uint64).max).all()
    assert (signed.sig[1] != np.iinfo(np.uint64).max).any()


def test_signature_agreement_estimates_exact_jaccard():
    rng = np.random.default_rng(3)
    vocab = [f"w{i}" for i in range(500)]
    cfg = MinHashConfig(bands=32, rows=8)  # 256 permutations: standard error <= 0.032
    errors = []
    for _ in range(30):
        base = list(rng.choice(vocab, 100))
        other = [w if rng.random() > rng.uniform(0.0, 0.3) else str(rng.choice(vocab)) for w in base]
        a, b = " ".join(base), " ".join(other)
        signed = sign_texts(pa.array([a, b]), cfg, "words")
        est = float(np.mean(signed.sig[0] == signed.sig[1]))
        exact = minhash_ref.jaccard(minhash_ref.shingles(a, "words", 5), minhash_ref.shingles(b, "words", 5))
        errors.append(est - exact)
    assert abs(np.mean(errors)) < 0.02
    assert np.max(np.abs(errors)) < 0.12
