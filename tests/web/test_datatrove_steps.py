"""The datatrove steps keep exactly the pages the clean-cc core keeps, with the same text and code blocks."""

from __future__ import annotations

from datatrove.data import Document

from codeflow.pipelines.datatrove.web import CodeflowExtractor, CodeflowLanguageFilter, CodeflowQualityFilter
from codeflow.web.config import CleanCCConfig
from codeflow.web.decode import decode_payload
from codeflow.web.pipeline import process_warc
from tests.web.warcs import record_bytes, sample_pages, write_warc


def test_datatrove_steps_match_the_core(tmp_path):
    everything = sample_pages()
    pages = everything[:4] + everything[-6:]  # tutorials (kept) and index pages (rejected)
    cfg = CleanCCConfig()
    core = process_warc(write_warc(tmp_path / "s.warc.gz", [record_bytes(p.url, p.payload) for p in pages]), cfg)
    docs = [Document(text=decode_payload(p.payload, p.declared_charset)[0], id=p.record_id,
                     metadata={"url": p.url}) for p in pages]
    steps = [CodeflowExtractor(cfg), CodeflowLanguageFilter(cfg), CodeflowQualityFilter(cfg)]
    data = iter(docs)
    for step in steps:
        data = step.run(data, rank=0, world_size=1)
    out = list(data)
    assert sorted(d.metadata["url"] for d in out) == sorted(d["url"] for d in core.docs)
    assert 0 < len(out) < len(pages)  # the sample has pages on both sides of the filters
    by_url = {d["url"]: d for d in core.docs}
    for d in out:
        assert d.text == by_url[d.metadata["url"]]["text"]
        assert "prose" not in d.metadata and d.metadata["language"] == "en"
    core_blocks = sorted(b["content"] for b in core.blocks if b["url"] in by_url)
    step_blocks = sorted(b["content"] for d in out for b in d.metadata["code_blocks"])
    assert step_blocks == core_blocks
