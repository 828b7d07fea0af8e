"""Every threshold of ``clean-cc`` in one frozen dataclass (hashed into the lake, so changing one is a new run).

Defaults follow the published recipes: Gopher (Rae et al. 2021, appendix A), C4 (Raffel et al. 2020) as
datatrove implements them, and FineWeb (Penedo et al. 2024). Two deliberate departures for a *code* corpus:
C4's curly-bracket rule is off (prose about code mentions ``{}``; code blocks never see text filters anyway),
and LID keeps English plus whatever ``languages`` lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GopherConfig:
    min_words: int = 50
    max_words: int = 100_000
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_symbol_word_ratio: float = 0.1  # '#' and '...' per word
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8  # words with at least one letter
    min_stop_words: int = 2
    # repetition
    max_dup_line_ratio: float = 0.3
    max_dup_para_ratio: float = 0.3
    max_dup_line_char_ratio: float = 0.2
    max_dup_para_char_ratio: float = 0.2
    top_ngram_char_ratios: tuple[tuple[int, float], ...] = ((2, 0.2), (3, 0.18), (4, 0.16))
    dup_ngram_char_ratios: tuple[tuple[int, float], ...] = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12),
                                                            (9, 0.11), (10, 0.10))


@dataclass(frozen=True)
class C4Config:
    filter_lorem_ipsum: bool = True
    filter_curly_bracket: bool = False  # see module doc
    filter_javascript_lines: bool = True
    min_words_per_line: int = 0  # C4 uses 3 with terminal punctuation; off: docs pages have short headings
    max_word_length: int = 1000


@dataclass(frozen=True)
class FineWebConfig:
    min_line_punct_ratio: float = 0.12
    max_short_line_ratio: float = 0.67
    short_line_chars: int = 30
    max_char_dup_ratio: float = 0.01
    max_newline_word_ratio: float = 0.3


@dataclass(frozen=True)
class CleanCCConfig:
    """Configuration of the whole funnel; every field is a documented knob."""

    max_page_bytes: int = 2 << 20  # larger payloads are rejected 'too_large' without being held in memory
    accept_mimes: tuple[str, ...] = ("text/html", "application/xhtml+xml")
    favor_precision: bool = True  # trafilatura: prefer less text but correct extraction
    extraction_timeout_s: float = 30.0  # per page, HTML parse + code blocks + trafilatura; 0: no limit
    # "process": extraction runs in a killable worker process, so the limit also stops C code (lxml, trafilatura's
    # C parts); "signal": SIGALRM in this process (no per-page pipe cost, but only interrupts between bytecodes)
    extraction_isolation: str = "process"
    max_replacement_ratio: float = 0.01  # U+FFFD per character accepted when no charset fits
    min_text_chars: int = 200  # prose shorter than this after cleaning is 'empty_extraction'
    fence_code_in_text: bool = True  # put code blocks back into the document text as ``` fences
    languages: tuple[str, ...] = ("en",)  # empty: keep every language
    min_language_score: float = 0.65
    code_min_chars: int = 10
    code_max_chars: int = 100_000
    code_min_lines: int = 1
    gopher: GopherConfig = field(default_factory=GopherConfig)
    c4: C4Config = field(default_factory=C4Config)
    fineweb: FineWebConfig = field(default_factory=FineWebConfig)
    filters: tuple[str, ...] = ("gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality")

    def __post_init__(self) -> None:
        if self.extraction_isolation not in ("process", "signal"):
            raise ValueError(f"extraction_isolation must be 'process' or 'signal', not {self.extraction_isolation!r}")
