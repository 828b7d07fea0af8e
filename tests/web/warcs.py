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


def small_pages(n: int = 4) -> list[WarcRecord]:
    """The ``n`` smallest tutorial pages: real HTML with code, cheap enough to run many archives of them."""
    return sorted((r for r in sample_pages() if "/tutorial/" in r.url), key=lambda r: len(r.payload))[:n]


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


def wet_record(url: str, text: str) -> bytes:
    """One WET ``conversion`` record (the text Common Crawl extracts from a page), gzip member."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    rec = writer.create_warc_record(url, "conversion", payload=io.BytesIO(text.encode("utf-8")),
                                    warc_headers_dict={"Content-Type": "text/plain",
                                                       "WARC-Record-ID": f"<urn:wet:{url}>"})
    writer.write_record(rec)
    return buf.getvalue()


def arc_record(url: str, body: bytes, content_type: str = "text/html", date: str = "20080115000000") -> bytes:
    """One ARC v1 record (HTTP response with headers), as the Internet Archive wrote them before WARC."""
    http = (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    block = http + body
    return f"{url} 192.0.2.1 {date} {content_type} {len(block)}\n".encode() + block + b"\n"


def arc_file(records: list[tuple[str, bytes]], gz: bool) -> bytes:
    """An ARC v1 file: the ``filedesc://`` header record, then the responses (one gzip member each when gz)."""
    spec = b"1 0 InternetArchive\nURL IP-address Archive-date Content-type Archive-length\n"
    parts = [b"filedesc://test.arc 0.0.0.0 20080115000000 text/plain %d\n" % len(spec) + spec + b"\n"]
    parts += [arc_record(url, body) for url, body in records]
    return b"".join(gzip.compress(p, mtime=0) for p in parts) if gz else b"".join(parts)


def plain_records(pages: list[WarcRecord]) -> list[bytes]:
    return [record_bytes(p.url, p.payload, gz=False) for p in pages]


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


ZERO_LENGTH_RECORD = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-"
                      b"000000000000>\r\n"
                      b"WARC-Target-URI: https://example.org/zero\r\nWARC-Date: 2025-01-15T00:00:00Z\r\n"
                      b"Content-Length: 0\r\n\r\n\r\n\r\n")


def damaged_archives(pages: list[WarcRecord]) -> dict[str, tuple[bytes, list[int], list[str]]]:
    """The matrix of damaged archives: file name -> (bytes, indices of ``pages`` that must be kept, reject reasons).

    Four pages per archive; each case carries one kind of damage (or an unusual but valid layout, which must
    lose nothing).
    """
    assert len(pages) == 4
    p = plain_records(pages)
    g = [record_bytes(x.url, x.payload) for x in pages]
    whole = b"".join(p)
    h = len(p[1]) // 2
    return {
        # gzip layouts that are valid, only not one member per record: nothing may be lost
        "members-misaligned.warc.gz": (gz(p[0] + p[1][:1000]) + gz(p[1][1000:] + p[2]) + gz(p[3]), [0, 1, 2, 3], []),
        "record-split-over-members.warc.gz": (g[0] + gz(p[1][:h]) + gz(p[1][h:]) + g[2] + g[3], [0, 1, 2, 3], []),
        "non-chunked.warc.gz": (gz(whole), [0, 1, 2, 3], []),
        "two-records-per-member.warc.gz": (gz(p[0] + p[1]) + gz(p[2] + p[3]), [0, 1, 2, 3], []),
        # damage: one reject each, the rest kept
        "member-cut-mid-record.warc.gz": (g[0] + g[1][: len(g[1]) // 2] + g[2] + g[3], [0, 2, 3],
                                          ["warc_read_error"]),  # cut inside the first block warcio reads
        "non-chunked-cut-short.warc.gz": (gz(whole)[:-200], [0, 1, 2], ["truncated_record"]),
        "record-cut-mid-line.warc": (p[0] + p[1][:3000] + p[2] + p[3], [0, 2, 3], ["truncated_record"]),
        "content-length-too-large.warc": (p[0] + _with_length(p[1], +7) + p[2] + p[3], [0, 2, 3],
                                          ["truncated_record"]),
        "content-length-too-small.warc": (p[0] + _with_length(p[1], -500) + p[2] + p[3], [0, 2, 3],
                                          ["truncated_record"]),
        "content-length-past-eof.warc": (p[0] + p[1] + p[2] + _with_length(p[3], +100_000), [0, 1, 2],
                                         ["truncated_record"]),
        "garbage-between-records.warc": (p[0] + p[1] + b"garbage \x00\xff line\r\n" * 5 + p[2] + p[3],
                                         [0, 1, 2, 3], ["warc_read_error"]),
        "garbage-between-members.warc.gz": (g[0] + g[1] + b"garbage \x00\xff line\r\n" * 5 + g[2] + g[3],
                                            [0, 1, 2, 3], ["warc_read_error"]),
        "corrupt-deflate-in-member.warc.gz": (g[0] + g[1][:40] + b"\x00garbage\xff" * 20 + g[1][240:] + g[2] + g[3],
                                              [0, 2, 3], ["warc_read_error"]),
        "zero-length-record.warc": (p[0] + p[1] + ZERO_LENGTH_RECORD + p[2] + p[3], [0, 1, 2, 3], ["empty_record"]),
        "no-warc-type.warc": (p[0] + p[1].replace(b"WARC-Type: response\r\n", b"") + p[2] + p[3], [0, 2, 3],
                              ["warc_read_error"]),
        "warc-0.18.warc": (b"".join(x.replace(b"WARC/1.0", b"WARC/0.18", 1) for x in p), [0, 1, 2, 3], []),
        "empty.warc": (b"", [], ["empty_file"]),
        "empty.warc.gz": (b"", [], ["empty_file"]),
        "gzip-of-nothing.warc.gz": (gz(b""), [], ["empty_file"]),
        "text.warc": (b"this is not a warc file at all\n" * 10, [], ["not_an_archive"]),
        "image.warc.gz": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, [], ["not_an_archive"]),
        "json-gzipped.warc.gz": (gz(b'{"id": 1, "text": "a json line"}\n' * 50), [], ["not_an_archive"]),
    }


def _with_length(record: bytes, delta: int) -> bytes:
    """The same plain record with its WARC Content-Length off by ``delta``."""
    import re

    m = re.search(rb"Content-Length: (\d+)", record)
    return record[:m.start(1)] + str(int(m.group(1)) + delta).encode() + record[m.end(1):]


def damaged_arcs(pages: list[WarcRecord]) -> dict[str, tuple[bytes, list[int], list[str]]]:
    """ARC files with damage, as ``damaged_archives``. ARC has no digests: a record followed by junk cannot be
    told from one with a wrong length, so it is rejected (one reject) and the reader resyncs after it."""
    assert len(pages) == 3
    head = arc_file([], gz=False)
    r = [arc_record(x.url, x.payload) for x in pages]
    return {
        "junk-after-record.arc": (head + r[0] + b"junk junk\n" * 3 + r[1] + r[2], [1, 2], ["truncated_record"]),
        "record-cut-mid-line.arc": (head + r[0] + r[1][:3000] + r[2], [0, 2], ["truncated_record"]),
        "member-cut.arc.gz": (gz(head) + gz(r[0]) + gz(r[1])[:2000] + gz(r[2]), [0, 2], ["truncated_record"]),
        "one-stream.arc.gz": (gz(head + b"".join(r)), [0, 1, 2], []),
    }
