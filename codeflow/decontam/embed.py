"""The optional embedding matcher: paraphrases that share few n-grams, with semantic dedup's pluggable encoder.

The encoder spec is the one of ``codeflow dedup --semantic`` (``hashing[:DIM]``, a local sentence-transformers
folder, or ``module:attr``; nothing is downloaded). Each benchmark segment gets one L2-normalised vector at index
time; a record is cut into windows of ``embedding_window_chars`` characters (half-overlapping, at line breaks
when there is one nearby) and a window whose cosine with a segment reaches ``embedding_threshold`` is a match.
Off by default: it costs an encoder call per window and catches what the lexical matchers do not.
"""

from __future__ import annotations

import numpy as np

from codeflow.dedup.semantic import SemanticConfig, embed


def embed_texts(texts: list[str], cfg) -> np.ndarray:
    return embed(texts, SemanticConfig(encoder=cfg.encoder))


def windows(text: str, size: int) -> list[tuple[int, int]]:
    """Half-overlapping ``(start, end)`` character windows; a short text is one window."""
    if len(text) <= size:
        return [(0, len(text))]
    out, start = [], 0
    while start < len(text):
        end = min(start + size, len(text))
        cut = text.rfind("\n", start + size // 2, end)
        end = cut if (cut > start and end < len(text)) else end
        out.append((start, end))
        if end >= len(text):
            break
        start = max(start + 1, (start + end) // 2)
    return out


def embedding_hits(index, pieces) -> list:
    from codeflow.decontam.match import Hit

    cfg = index.config
    spans, texts = [], []
    for p, piece in enumerate(pieces):
        for a, b in windows(piece.text, cfg.embedding_window_chars):
            if piece.text[a:b].strip():
                spans.append((p, a, b))
                texts.append(piece.text[a:b])
    if not texts:
        return []
    emb = embed_texts(texts, cfg)
    seg_emb = index.embeddings
    out = []
    for lo in range(0, len(texts), 512):
        sims = emb[lo:lo + 512] @ seg_emb.T
        w, s = np.nonzero(sims >= cfg.embedding_threshold - 0.1)  # near misses feed the score histogram
        for wi, si in zip(w.tolist(), s.tolist(), strict=True):
            p, a, b = spans[lo + wi]
            # embedding spans are characters: first/last hold character offsets, marked by a negative seg_first
            out.append(Hit(pieces[p].record, int(si), "embedding", float(sims[wi, si]), p, a, b - 1, p, -1, -1))
    return out
