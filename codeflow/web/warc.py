"""Read WARC / WARC.gz / WET records with warcio, surviving damaged files.

warcio parses records; this module adds what a crawl-scale run needs around it:

* every record becomes a ``WarcRecord`` with provenance (URL, WARC-Record-ID, date, HTTP status, content type,
  declared charset) and at most ``max_bytes + 1`` payload bytes, so a 50 MB page never sits in memory whole;
* a record whose block is shorter than its Content-Length (a file cut mid-record, a truncated gzip member,
  a wrong Content-Length) is yielded with ``problem`` set, so the pipeline rejects it with a reason;
* when warcio cannot go on (corrupt gzip member, garbage where a header should be), the reader yields a
  ``ReadProblem`` and *resyncs*: it scans forward for the next gzip member (``.gz``) or ``WARC/1.`` line
  (plain) and restarts there. One bad record never loses the good records after it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from codeflow.lake import to_fs

GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_MAGIC = b"WARC/1."
SCAN_CHUNK = 1 << 20
# Record types that carry a page: HTTP responses (WARC), text conversions (WET), resources (local captures).
PAGE_TYPES = ("response", "conversion", "resource")
READ_ERRORS = (ArchiveLoadFailed, zlib.error, EOFError, ValueError, OSError, IndexError, KeyError,
               UnicodeDecodeError, AttributeError, TypeError)


@dataclass
class WarcRecord:
    """One page-carrying WARC record, as much as the pipeline needs of it."""

    record_id: str
    url: str | None
    date: str | None
    record_type: str
    offset: int
    http_status: int | None
    content_type: str | None  # HTTP Content-Type (WARC Content-Type for WET/resource records)
    payload: bytes  # at most max_bytes + 1 bytes: longer means too large
    payload_complete: bool  # False when the record ended before its Content-Length (truncated / lying length)
    warc_truncated: str | None  # the WARC-Truncated header, set by crawlers that cut long pages

    @property
    def mime(self) -> str:
        return (self.content_type or "").split(";")[0].strip().lower()

    @property
    def declared_charset(self) -> str | None:
        for part in (self.content_type or "").split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'").lower()
        return None


@dataclass
class ReadProblem:
    """warcio failed at ``offset``; the reader resynced at ``resumed_at`` (None: nothing more to read)."""

    offset: int
    error: str
    resumed_at: int | None


def _header(headers, name: str) -> str | None:
    return headers.get_header(name) if headers is not None else None


def _to_record(rec, offset: int, max_bytes: int) -> WarcRecord:
    """Read at most ``max_bytes + 1`` payload bytes; completeness is settled after warcio reads to the end."""
    rtype = rec.rec_type
    status = None
    if rtype == "response" and rec.http_headers is not None:
        code = rec.http_headers.get_statuscode()
        status = int(code) if code and str(code).isdigit() else None
        ctype = rec.http_headers.get_header("Content-Type")
    else:
        ctype = _header(rec.rec_headers, "Content-Type")
    payload = rec.content_stream().read(max_bytes + 1)
    return WarcRecord(
        record_id=_header(rec.rec_headers, "WARC-Record-ID") or f"<offset:{offset}>",
        url=_header(rec.rec_headers, "WARC-Target-URI"),
        date=_header(rec.rec_headers, "WARC-Date"),
        record_type=rtype,
        offset=offset,
        http_status=status,
        content_type=ctype,
        payload=payload,
        payload_complete=True,
        warc_truncated=_header(rec.rec_headers, "WARC-Truncated"),
    )


def _scan(fh, start: int, magic: bytes) -> int | None:
    """Offset of the next ``magic`` at or after ``start`` (a gzip member or a WARC header line)."""
    pos = start
    tail = b""
    while True:
        fh.seek(pos)
        chunk = fh.read(SCAN_CHUNK)
        if not chunk:
            return None
        buf = tail + chunk
        hit = buf.find(magic)
        while hit != -1:
            at = pos - len(tail) + hit
            # A WARC header must start a line; a gzip member can start anywhere after the damage.
            starts_line = at == 0 or (buf[hit - 1:hit] == b"\n" if hit > 0 else tail.endswith(b"\n"))
            if magic != WARC_MAGIC or starts_line:
                return at
            hit = buf.find(magic, hit + 1)
        tail = buf[-(len(magic) - 1):]
        pos += len(chunk)


def iter_warc(url: str, max_bytes: int) -> Iterator[WarcRecord | ReadProblem | str]:
    """Yield page records and read problems of one WARC/WET file (plain or gzip); other record types are
    yielded as their type name (``"request"``, ``"warcinfo"``, ...) so callers can count them.

    A record whose block ends early (EOF, truncated gzip member, Content-Length too large) or is followed by
    junk instead of the blank lines (Content-Length too small) is yielded with ``payload_complete=False``,
    and reading restarts at the next record boundary found after its start: a lying length can neither
    swallow the records behind it nor turn its tail into fake records.
    """
    fs, path = to_fs(url)
    with fs.open(path, "rb") as fh:
        gz = fh.read(3) == GZIP_MAGIC
        magic = GZIP_MAGIC if gz else WARC_MAGIC
        start: int | None = 0
        while start is not None:
            fh.seek(start)
            it = ArchiveIterator(fh, arc2warc=False, check_digests=False)
            restart_at: int | None = None
            try:
                for rec in it:
                    rec_start = it.offset  # warcio moves it to the next record in read_to_end
                    if rec.format != "warc":  # warcio falls back to ARC parsing on junk lines
                        raise ArchiveLoadFailed(f"not a WARC record header ({rec.format})")
                    item = _to_record(rec, rec_start, max_bytes) if rec.rec_type in PAGE_TYPES else rec.rec_type
                    errors_before = it.err_count
                    try:
                        it.read_to_end()
                        # Short block, junk where the blank lines belong, or a next line that is no WARC
                        # header (a too-large Content-Length that ends inside a later record): all damage.
                        damaged = (it.err_count > errors_before or getattr(rec.raw_stream, "limit", 0) > 0
                                   or bool(it.next_line and not it.next_line.startswith(WARC_MAGIC[:5])))
                    except READ_ERRORS:
                        damaged = None  # this record is whole; what follows it is not
                    if damaged and isinstance(item, WarcRecord):
                        item.payload_complete = False
                    yield item
                    if damaged is not False:
                        restart_at = _scan(fh, rec_start + 1, magic)
                        break
                else:
                    return
            except READ_ERRORS as e:
                failed_at = max(it.offset, start)
                restart_at = _scan(fh, failed_at + 1, magic)
                yield ReadProblem(failed_at, f"{type(e).__name__}: {e}".splitlines()[0][:300], restart_at)
            start = restart_at
