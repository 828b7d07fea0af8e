"""clean-cc's steps as datatrove ``PipelineStep``s, to drop into an existing datatrove pipeline.

They run the same core functions as ``codeflow clean-cc`` (``codeflow.web``), after datatrove's own
``WarcReader`` (which yields one ``Document`` per HTML response, the decoded HTML in ``text``)::

    from datatrove.pipeline.readers import WarcReader
    from codeflow.pipelines.datatrove.web import (CodeflowExtractor, CodeflowLanguageFilter,
                                                  CodeflowQualityFilter)

    pipeline = [WarcReader("s3://commoncrawl/crawl-data/CC-MAIN-2024-10/segments/", glob_pattern="*/warc/*"),
                CodeflowExtractor(), CodeflowLanguageFilter(), CodeflowQualityFilter(), JsonlWriter(...)]

``CodeflowExtractor`` replaces datatrove's ``Trafilatura`` step: main text from the same trafilatura call, plus
byte-exact code blocks in ``metadata["code_blocks"]`` (list of dicts: index_in_page, language,
language_source, content) and the named cleaning rules. The prose the filters judge travels in
``metadata["prose"]`` (text without code), so language ID and quality filters never see code; the last
codeflow filter removes it. The lake-native CLI is still the way to get rejects with reasons and the report.
"""

from __future__ import annotations

from collections import Counter

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter

from codeflow.web import html as H
from codeflow.web import lid, quality, rules
from codeflow.web.config import CleanCCConfig
from codeflow.web.pipeline import assemble

PROSE_KEY = "prose"


class CodeflowExtractor(PipelineStep):
    """HTML -> cleaned text with code fences + ``metadata['code_blocks']``; drops pages with no prose."""

    name = "⛏ codeflow extract (text + code blocks)"
    type = "🛢 - EXTRAC"

    def __init__(self, config: CleanCCConfig | None = None, keep_code_only_pages: bool = False) -> None:
        super().__init__()
        self.config = config or CleanCCConfig()
        self.keep_code_only_pages = keep_code_only_pages

    def extract(self, doc: Document) -> bool:
        """Rewrite ``doc`` in place; False when it has neither enough prose nor (if asked) code."""
        cfg = self.config
        try:
            tree = H.parse(doc.text)
        except H.HtmlError:
            self.stat_update("parse_error")
            return False
        blocks = H.extract_code_blocks(tree)
        kept = {i: b for i, b in enumerate(blocks)
                if cfg.code_min_chars <= len(b.content.strip()) <= cfg.code_max_chars}
        stats: Counter = Counter()
        cleaned = rules.clean(H.extract_main_text(tree, cfg.favor_precision), stats)
        for k, v in stats.items():
            self.stat_update(k, value=v)
        text, prose = assemble(cleaned, kept, cfg.fence_code_in_text)
        doc.metadata["code_blocks"] = [
            {"index_in_page": i, "language": b.language, "language_source": b.language_source,
             "content": b.content} for i, b in kept.items()]
        self.stat_update("code_blocks", value=len(kept))
        if len(prose.strip()) < cfg.min_text_chars and not (self.keep_code_only_pages and kept):
            self.stat_update("empty_extraction")
            return False
        doc.text = text
        doc.metadata[PROSE_KEY] = prose
        return True

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            self.stat_update("total")
            with self.track_time():
                ok = self.extract(doc)
            if ok:
                self.stat_update("extracted")
                yield doc


def _prose(doc: Document) -> str:
    return doc.metadata.get(PROSE_KEY, doc.text)


class CodeflowLanguageFilter(BaseFilter):
    """fastText lid.176 (bundled) on the prose; sets ``metadata['language']`` and ``['language_score']``."""

    name = "🌍 codeflow language ID"

    def __init__(self, config: CleanCCConfig | None = None, exclusion_writer=None) -> None:
        super().__init__(exclusion_writer)
        self.config = config or CleanCCConfig()

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        lang, score = lid.identify(_prose(doc))
        doc.metadata["language"], doc.metadata["language_score"] = lang, score
        cfg = self.config
        if cfg.languages and (lang not in cfg.languages or score < cfg.min_language_score):
            return False, "language"
        return True


class CodeflowQualityFilter(BaseFilter):
    """Gopher repetition/quality, C4 and FineWeb rules on the prose, thresholds from ``CleanCCConfig``."""

    name = "🥇 codeflow quality (Gopher/C4/FineWeb)"

    def __init__(self, config: CleanCCConfig | None = None, exclusion_writer=None,
                 drop_prose: bool = True) -> None:
        super().__init__(exclusion_writer)
        self.config = config or CleanCCConfig()
        self.drop_prose = drop_prose

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        cfg = self.config
        prose = _prose(doc)
        if cfg.c4.filter_javascript_lines:
            prose = quality.javascript_lines_dropped(prose)
        failed = quality.first_failure(prose, cfg.filters, {"gopher": cfg.gopher, "c4": cfg.c4,
                                                            "fineweb": cfg.fineweb})
        if self.drop_prose:
            doc.metadata.pop(PROSE_KEY, None)
        return (False, failed[0]) if failed else True
