"""A deterministic local encoder for tests: bag of words hashed into 64 dimensions (no model, no download)."""

from __future__ import annotations

import numpy as np
import xxhash


def bag_of_words(texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().split():
            out[i, xxhash.xxh3_64_intdigest(word.encode()) % 64] += 1.0
    return out
