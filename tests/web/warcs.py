"""Build small WARC files for tests from real pages of the bundled sample (and deliberately broken ones)."""

from __future__ import annotations

import gzip
import io

from warcio.warcwriter import WARCWriter

from codeflow.demo import sample_path
from codeflow.demo.warc import write_response
from codeflow.web.warc import WarcRecord, iter_warc

SAMPLE = sample_path("warc", "python-docs.warc.gz")


def sample_pages(n: int | None = None, html_only: bool = True) -> list[WarcRecord]:
    recs = [r for r in iter_warc(SAMPLE, 10 << 20) if isinstance(r, WarcRecord)]
    if html_only:
        recs = [r for r in recs if r.mime == "text/html"]
    return recs[:n] if n else recs


def record_bytes(url: str, body: bytes, content_type: str = "text/html; charset=utf-8", gz: bool = True,
                 status: str = "200 OK") -> bytes:
    """One record serialized on its own (a gzip member when gz)."""
    buf = io.BytesIO()
    write_response(WARCWriter(buf, gzip=gz), url, body, content_type, status)
    return buf.getvalue()


def write_warc(path, parts: list[bytes]) -> str:
    with open(path, "wb") as f:
        for p in parts:
            f.write(p)
    return str(path)


def gunzip_member(member: bytes) -> bytes:
    return gzip.decompress(member)
