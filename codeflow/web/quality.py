"""Gopher, C4 and FineWeb quality heuristics over prose (code blocks never come here).

Each filter returns ``None`` when the text passes, or a short detail naming the rule that failed and its
value, which becomes the reject's ``detail``. Words are whitespace tokens with surrounding punctuation
stripped: language-independent and fast (datatrove's English tokenizer needs spaCy, and tokenizer choice
moves these ratios far less than the thresholds do).
"""

from __future__ import annotations

import re
from collections import Counter

from codeflow.web.config import C4Config, FineWebConfig, GopherConfig

PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~«»“”‘’…–—¡¿·•"
STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
TERMINAL = (".", "!", "?", '"', "'", "…", ":", ";", "”", "’", ")")
BULLETS = ("•", "●", "○", "▪", "◦", "- ", "* ", "–", "·")
_WS = re.compile(r"\s+")
_PARA = re.compile(r"\n{2,}")


def words_of(text: str) -> list[str]:
    return [w for w in (t.strip(PUNCT) for t in _WS.split(text)) if w]


def gopher_quality(text: str, words: list[str], cfg: GopherConfig) -> str | None:
    n = len(words)
    if n < cfg.min_words:
        return f"words={n}<{cfg.min_words}"
    if n > cfg.max_words:
        return f"words={n}>{cfg.max_words}"
    mean = sum(map(len, words)) / n
    if mean < cfg.min_mean_word_length or mean > cfg.max_mean_word_length:
        return f"mean_word_length={mean:.2f}"
    symbols = text.count("#") + text.count("...") + text.count("…")
    if symbols / n > cfg.max_symbol_word_ratio:
        return f"symbol_word_ratio={symbols / n:.3f}"
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if lines:
        bullets = sum(ln.lstrip().startswith(BULLETS) for ln in lines) / len(lines)
        if bullets > cfg.max_bullet_lines_ratio:
            return f"bullet_lines_ratio={bullets:.3f}"
        ellipsis = sum(ln.rstrip().endswith(("...", "…")) for ln in lines) / len(lines)
        if ellipsis > cfg.max_ellipsis_lines_ratio:
            return f"ellipsis_lines_ratio={ellipsis:.3f}"
    alpha = sum(any(c.isalpha() for c in w) for w in words) / n
    if alpha < cfg.min_alpha_words_ratio:
        return f"alpha_words_ratio={alpha:.3f}"
    stops = sum(w.lower() in STOP_WORDS for w in words)
    if stops < cfg.min_stop_words:
        return f"stop_words={stops}"
    return None


def _dup_stats(items: list[str]) -> tuple[int, int]:
    """(number of items that repeat an earlier one, characters in those repeats)."""
    seen: set[str] = set()
    dups = chars = 0
    for it in items:
        if it in seen:
            dups += 1
            chars += len(it)
        else:
            seen.add(it)
    return dups, chars


def _ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    """Word n-grams as tuples (hashing a tuple is cheaper than joining a string)."""
    return list(zip(*(words[i:] for i in range(n)), strict=False))


def gopher_repetition(text: str, words: list[str], cfg: GopherConfig) -> str | None:
    total = max(1, len(text))
    paras = [p.strip() for p in _PARA.split(text.strip()) if p.strip()]
    if paras:
        dups, chars = _dup_stats(paras)
        if dups / len(paras) > cfg.max_dup_para_ratio:
            return f"dup_para_ratio={dups / len(paras):.3f}"
        if chars / total > cfg.max_dup_para_char_ratio:
            return f"dup_para_char_ratio={chars / total:.3f}"
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    if lines:
        dups, chars = _dup_stats(lines)
        if dups / len(lines) > cfg.max_dup_line_ratio:
            return f"dup_line_ratio={dups / len(lines):.3f}"
        if chars / total > cfg.max_dup_line_char_ratio:
            return f"dup_line_char_ratio={chars / total:.3f}"
    wchars = max(1, sum(map(len, words)))
    for n, limit in cfg.top_ngram_char_ratios:
        grams = _ngrams(words, n)
        if grams:
            gram, count = Counter(grams).most_common(1)[0]
            chars = sum(map(len, gram)) * count
            if count > 1 and chars / wchars > limit:
                return f"top_{n}gram_char_ratio={chars / wchars:.3f}"
    for n, limit in cfg.dup_ngram_char_ratios:
        grams = _ngrams(words, n)
        seen: set[tuple[str, ...]] = set()
        covered = [False] * len(words)
        for i, g in enumerate(grams):
            if g in seen:
                for j in range(i, i + n):
                    covered[j] = True
            else:
                seen.add(g)
        dup_chars = sum(len(w) for w, c in zip(words, covered, strict=True) if c)
        if dup_chars / wchars > limit:
            return f"dup_{n}gram_char_ratio={dup_chars / wchars:.3f}"
    return None


def c4_quality(text: str, words: list[str], cfg: C4Config) -> str | None:
    low = text.lower()
    if cfg.filter_lorem_ipsum and "lorem ipsum" in low:
        return "lorem_ipsum"
    if cfg.filter_curly_bracket and "{" in text:
        return "curly_bracket"
    if cfg.max_word_length and any(len(w) > cfg.max_word_length for w in words):
        return "word_too_long"
    if cfg.min_words_per_line:
        lines = [ln for ln in text.split("\n") if ln.strip()]
        good = [ln for ln in lines if ln.rstrip().endswith(TERMINAL) and len(ln.split()) >= cfg.min_words_per_line]
        if not good:
            return "no_sentence_lines"
    return None


def fineweb_quality(text: str, words: list[str], cfg: FineWebConfig) -> str | None:
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if not lines:
        return "empty"
    punct = sum(ln.rstrip().endswith(TERMINAL) for ln in lines) / len(lines)
    if punct < cfg.min_line_punct_ratio:
        return f"line_punct_ratio={punct:.3f}"
    short = sum(len(ln.strip()) <= cfg.short_line_chars for ln in lines) / len(lines)
    if short > cfg.max_short_line_ratio:
        return f"short_line_ratio={short:.3f}"
    dups, chars = _dup_stats([ln.strip() for ln in lines])
    nonws = max(1, len(text.replace(" ", "").replace("\n", "")))
    if chars / nonws > cfg.max_char_dup_ratio:
        return f"char_dup_ratio={chars / nonws:.3f}"
    ratio = text.count("\n") / max(1, len(words))
    if ratio > cfg.max_newline_word_ratio:
        return f"newline_word_ratio={ratio:.3f}"
    return None


FILTERS = {"gopher_repetition": ("gopher", gopher_repetition), "gopher_quality": ("gopher", gopher_quality),
           "c4_quality": ("c4", c4_quality), "fineweb_quality": ("fineweb", fineweb_quality)}


def javascript_lines_dropped(text: str) -> str:
    """C4's line rule: lines mentioning javascript are dropped (before the document-level rules)."""
    return "\n".join(ln for ln in text.split("\n") if "javascript" not in ln.lower())


def first_failure(text: str, names: tuple[str, ...], cfgs: dict[str, object]) -> tuple[str, str] | None:
    """Run the filters named in order; ``(filter name, detail)`` of the first that fails, else None."""
    words = words_of(text)
    for name in names:
        key, fn = FILTERS[name]
        detail = fn(text, words, cfgs[key])
        if detail is not None:
            return name, detail
    return None
