"""Read WARC / ARC / WET files (plain or gzip) with warcio, surviving damaged files.

warcio parses records; this module adds what a crawl-scale run needs around it. Every item the reader yields
is one of three explicit outcomes, and the pipeline handles each (anything else is a bug):

* ``WarcRecord``: a page-carrying record (``response``, ``conversion``, ``resource``; ARC records are read as
  ``response``) with provenance and at most ``max_bytes + 1`` payload bytes, so a 50 MB page never sits in
  memory whole. A record whose block is shorter than its Content-Length (a file cut mid-record, a truncated gzip
  member, a wrong Content-Length) or fails its block digest carries ``damage``, so the pipeline rejects it;
* ``Skipped``: a record that carries no page (``request``, ``warcinfo``, ``metadata``...), counted by type;
* ``ReadProblem``: bytes that are no readable record (garbage between records, a record without ``WARC-Type``,
  a corrupt gzip member, an empty file, a file that is no archive at all), with a reason and where reading
  resumed. The reader *resyncs*: it scans forward for the next gzip member (``.gz``) or record header line
  (plain) and restarts there, so one bad record never loses the good records after it.

Gzip layouts. The standard layout is one gzip member per record (seekable, resyncable). Many tools instead
gzip a whole WARC as one stream, or put several records in one member; warcio refuses those after the first
record ("non-chunked gzip"). The reader then switches to *stream mode* from the member where that happened: it
reads the rest of the file through ``gzip.GzipFile`` (which crosses member boundaries, wherever they are) as a
plain WARC, skipping the record it already yielded. In stream mode ``offset`` is the position in the
decompressed stream that starts at that member (documented in docs/clean_cc.md); corruption inside a gzip
stream cannot be resynced (deflate has no sync points), so it ends the file with a reason that says so.
"""

from __future__ import annotations

import gzip
import io
import posixpath
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from codeflow.lake import to_fs

GZIP_MAGIC = b"\x1f\x8b\x08"
# A record header line: WARC (the versions warcio parses) or ARC v1 (URL IP date mime length).
WARC_HEADER = re.compile(rb"WARC/(?:1\.[01]|0\.1[78])\r?\n")
ARC_HEADER = re.compile(rb"(?:https?|ftp|dns|filedesc)://\S+ \S+ \d{14} \S+ \d+\r?\n")
SCAN_CHUNK = 1 << 20
# Record types that carry a page: HTTP responses (WARC), text conversions (WET), resources (local captures).
PAGE_TYPES = ("response", "conversion", "resource")
# What warcio (and zlib / gzip under it) raises on bytes that are no valid record. Reading damaged input
# surfaces as any of these, depending on where in a header or stream the damage lies.
READ_ERRORS = (ArchiveLoadFailed, zlib.error, gzip.BadGzipFile, EOFError, ValueError, IndexError, KeyError,
               UnicodeDecodeError, AttributeError, TypeError)
ARC_SUFFIXES = (".arc", ".arc.gz")
# What clean-cc reads: WARC (responses), WET (Common Crawl's text conversions), ARC (pre-2009 archives).
ARCHIVE_SUFFIXES = (".warc", ".warc.gz", ".wet", ".wet.gz", *ARC_SUFFIXES)
# WAT files hold metadata about pages (links, HTTP headers as JSON), not pages: refused with that message.
WAT_SUFFIXES = (".wat", ".wat.gz")


@dataclass
class WarcRecord:
    """One page-carrying record, as much as the pipeline needs of it."""

    record_id: str
    url: str | None
    date: str | None
    record_type: str
    offset: int
    http_status: int | None
    content_type: str | None  # HTTP Content-Type (WARC Content-Type for WET/resource records)
    payload: bytes  # at most max_bytes + 1 bytes: longer means too large
    warc_truncated: str | None  # the WARC-Truncated header, set by crawlers that cut long pages
    damage: str | None = None  # why the block cannot be trusted (short block, digest mismatch); None: whole
    block_length: int | None = None  # the declared Content-Length of the block

    @property
    def payload_complete(self) -> bool:
        return self.damage is None

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
class Skipped:
    """A readable record that carries no page (request, warcinfo, metadata, revisit...)."""

    record_type: str


@dataclass
class ReadProblem:
    """Bytes at ``offset`` are no readable record; reading resumed at ``resumed_at`` (None: nothing after it).

    ``reason`` is the reject reason: ``warc_read_error`` (damage inside an archive), ``empty_file`` or
    ``not_an_archive`` (the whole file).
    """

    offset: int
    error: str
    resumed_at: int | None
    reason: str = "warc_read_error"


Item = WarcRecord | Skipped | ReadProblem


def _header(headers, name: str) -> str | None:
    return headers.get_header(name) if headers is not None else None


def _message(e: BaseException) -> str:
    """First non-empty line of an exception (warcio's gzip message starts with a newline)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    if not first.isprintable():  # warcio quotes the bad header line: show binary bytes escaped and short
        first = ascii(first[:80])
    return f"{type(e).__name__}: {first}"[:300]


def _to_record(rec, offset: int, max_bytes: int) -> WarcRecord:
    """Read at most ``max_bytes + 1`` payload bytes; completeness is settled after warcio reads to the end."""
    status = None
    if rec.rec_type == "response" and rec.http_headers is not None:
        code = rec.http_headers.get_statuscode()
        status = int(code) if code and str(code).isdigit() else None
        ctype = rec.http_headers.get_header("Content-Type")
    else:
        ctype = _header(rec.rec_headers, "Content-Type")
    damage = None
    try:
        payload = rec.content_stream().read(max_bytes + 1)
    except READ_ERRORS as e:  # a broken chunked / content-encoded body: this record only
        payload, damage = b"", f"payload unreadable: {_message(e)}"
    length = _header(rec.rec_headers, "Content-Length")
    return WarcRecord(
        record_id=_header(rec.rec_headers, "WARC-Record-ID") or f"<offset:{offset}>",
        url=_header(rec.rec_headers, "WARC-Target-URI"),
        date=_header(rec.rec_headers, "WARC-Date"),
        record_type=rec.rec_type,
        offset=offset,
        http_status=status,
        content_type=ctype,
        payload=payload,
        warc_truncated=_header(rec.rec_headers, "WARC-Truncated"),
        damage=damage,
        block_length=int(length) if length and length.strip().isdigit() else None,
    )


def _scan(fh, start: int, pattern: re.Pattern | bytes) -> int | None:
    """Offset of the next gzip member (bytes) or record header line (regex) at or after ``start``."""
    pos = start
    tail = b""
    keep = 256  # longer than any header line the patterns match
    while True:
        try:
            fh.seek(pos)
            chunk = fh.read(SCAN_CHUNK)
        except READ_ERRORS + (OSError,):  # a gzip stream broken further on: nothing to resync to
            return None
        if not chunk:
            return None
        buf = tail + chunk
        base = pos - len(tail)
        if isinstance(pattern, bytes):
            hit = buf.find(pattern)
            if hit != -1:
                return base + hit
        else:
            # Not only at line starts: a record cut mid-line is followed by the next header on the same line.
            m = pattern.search(buf)
            if m:
                return base + m.start()
        tail = buf[-keep:]
        pos += len(chunk)


class _Tail(io.RawIOBase):
    """The file from ``start`` on, as a seekable file of its own (what ``GzipFile`` rewinds to)."""

    def __init__(self, fh, start: int) -> None:
        super().__init__()
        self.fh, self.start = fh, start
        fh.seek(start)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.fh.read(len(b))
        b[:len(data)] = data
        return len(data)

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 0:
            return self.fh.seek(self.start + pos) - self.start
        return self.fh.seek(pos, whence) - self.start

    def tell(self) -> int:
        return self.fh.tell() - self.start


def _unsyncable(e: BaseException, stream_at: int | None) -> bool:
    """Decompression failed inside a gzip stream: deflate has no sync point to restart from."""
    return stream_at is not None and isinstance(e, (zlib.error, EOFError, gzip.BadGzipFile))


def _member_end(fh, start: int) -> int | None:
    """Where the gzip member at ``start`` ends (None: it does not decompress to its end). Leaves the file
    position where it was (warcio reads on from there)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    here = fh.tell()
    fh.seek(start)
    pos = start
    try:
        while not d.eof:
            chunk = fh.read(SCAN_CHUNK)
            if not chunk:
                return None
            pos += len(chunk)
            d.decompress(chunk, SCAN_CHUNK)  # output bounded and dropped: only the end of the member matters
            while d.unconsumed_tail and not d.eof:
                d.decompress(d.unconsumed_tail, SCAN_CHUNK)
    except zlib.error:
        return None
    finally:
        fh.seek(here)
    return pos - len(d.unused_data)


def _at(fh, offset: int, n: int) -> bytes:
    """``n`` bytes at ``offset``, leaving the file position where it was (warcio reads on from there)."""
    here = fh.tell()
    try:
        fh.seek(offset)
        return fh.read(n)
    finally:
        fh.seek(here)


def _describe(head: bytes) -> str:
    """What a file that is no archive looks like, for the reject detail."""
    kinds = ((b"\x89PNG", "a PNG image"), (b"PK\x03\x04", "a ZIP archive"), (b"%PDF", "a PDF"),
             (b"{", "JSON"), (b"<", "HTML/XML"), (b"PAR1", "Parquet"))
    kind = next((name for magic, name in kinds if head.lstrip().startswith(magic)), None)
    if kind is None:
        kind = "text" if all(32 <= c < 127 or c in b"\t\r\n" for c in head[:64]) else "binary data"
    shown = ascii(head[:24].decode("latin-1"))
    return f"not a WARC or ARC file: looks like {kind}, starts with {shown}"


class _Reader:
    """State of one file's read: the file, its layout, and how to resync."""

    def __init__(self, fh, arc: bool, max_bytes: int, name: str) -> None:
        self.fh, self.arc, self.max_bytes, self.name = fh, arc, max_bytes, name
        self.header = ARC_HEADER if arc else WARC_HEADER
        self.yielded = 0

    def items(self) -> Iterator[Item]:
        head = self.fh.read(64)
        if not head:
            yield ReadProblem(0, "empty file (0 bytes)", None, "empty_file")
            return
        gz = head.startswith(GZIP_MAGIC)
        switch = yield from self._read(self.fh, 0, GZIP_MAGIC if gz else self.header, member_mode=gz)
        if switch is not None:  # several records in one gzip member: read the rest as one stream
            member_start, skip = switch
            with gzip.GzipFile(fileobj=_Tail(self.fh, member_start), mode="rb") as stream:
                yield from self._read(stream, 0, self.header, member_mode=False, skip=skip, stream_at=member_start)
        if self.yielded == 0:
            what = "gzip data with no records in it" if gz else "no records in it"
            yield ReadProblem(0, f"empty archive: {what}", None, "empty_file")

    def _read(self, fh, start: int | None, resync, member_mode: bool, skip: int = 0,
              stream_at: int | None = None) -> Iterator[Item]:
        """Records from ``start`` on, resyncing after damage. Returns ``(member_start, records_read)`` when a
        gzip member turns out to hold several records (then the caller re-reads from there as a stream)."""
        while start is not None:
            fh.seek(start)
            it = ArchiveIterator(fh, arc2warc=self.arc, check_digests=True)
            restart_at: int | None = None
            member_start, in_member = start, 0
            try:
                for rec in it:
                    rec_start = it.offset  # warcio moves it to the next record in read_to_end
                    if member_mode and rec_start != member_start:
                        member_start, in_member = rec_start, 0
                    if rec.format != "warc":  # warcio falls back to ARC parsing on junk lines of a WARC
                        raise ArchiveLoadFailed(f"not a WARC record header ({rec.format})")
                    item = self._item(rec, rec_start)
                    errors_before = it.err_count
                    tail_error: BaseException | None = None
                    try:
                        it.read_to_end()
                    except READ_ERRORS as e:
                        tail_error = e
                    short = getattr(rec.raw_stream, "limit", 0) > 0
                    junk_after = tail_error is None and (it.err_count > errors_before or bool(
                        it.next_line and not self.header.match(it.next_line)))
                    digest = rec.digest_checker.passed if rec.digest_checker is not None else None
                    garbage_after = junk_after and digest is True and not short  # a whole record, then junk
                    if member_mode and tail_error is None:
                        # One member per record? Cheap test first: the next member starts where warcio says.
                        nxt = _at(fh, it.offset, 3) if it.offset > rec_start else b"?"
                        if nxt not in (GZIP_MAGIC, b""):
                            end = _member_end(fh, member_start)
                            if end is not None and end != it.offset:
                                return member_start, in_member  # records and members do not line up: a stream
                            if end is not None and not short:
                                garbage_after = True  # a whole member, then bytes that are no gzip member
                            # end is None: the member does not decompress to its end. Reading on tells a whole-file
                            # gzip cut short (warcio's non-chunked error: a stream) from a corrupt member (resync).
                        elif short and _member_end(fh, member_start) is not None and nxt == GZIP_MAGIC:
                            return member_start, in_member  # the record goes on in the next member: a stream
                    if isinstance(item, ReadProblem):
                        item.resumed_at = it.offset
                    elif isinstance(item, WarcRecord) and item.damage is None:
                        if short:
                            item.damage = "block shorter than its Content-Length (file or gzip member cut short)"
                        elif digest is False:
                            item.damage = "block digest mismatch (wrong Content-Length or corrupt bytes)"
                        elif junk_after and not garbage_after:
                            item.damage = ("record not followed by the blank lines that end a record "
                                           "(wrong Content-Length?)")
                    in_member += 1
                    if skip:
                        skip -= 1
                    else:
                        self.yielded += 1
                        yield item
                    if tail_error is None and not (short or digest is False or junk_after or garbage_after):
                        continue
                    if garbage_after:  # a whole record, then garbage: report the garbage
                        restart_at = _scan(fh, it.offset + 1, resync)
                        yield self._problem(it.offset, "bytes that are no record header after a whole record",
                                            restart_at, stream_at)
                    elif tail_error is not None and not short:  # this record is whole; what follows it is not
                        restart_at = None if _unsyncable(tail_error, stream_at) else _scan(fh, rec_start + 1, resync)
                        yield self._problem(rec_start, f"after this record: {_message(tail_error)}", restart_at,
                                            stream_at)
                    else:
                        restart_at = _scan(fh, rec_start + 1, resync)
                    break
                else:
                    return None
            except READ_ERRORS as e:
                if member_mode and "non-chunked gzip" in str(e):
                    return member_start, in_member
                failed_at = max(it.offset, start)
                restart_at = _scan(fh, failed_at + 1, resync)
                if self.yielded == 0 and failed_at == 0 and restart_at is None and stream_at is None:
                    self.fh.seek(0)
                    yield self._not_an_archive(e)
                    self.yielded += 1
                    return None
                if _unsyncable(e, stream_at):
                    restart_at = None
                msg = _message(e)
                if member_mode and _at(fh, failed_at, 3) == GZIP_MAGIC and _member_end(fh, failed_at) is None:
                    msg = "gzip member cut short or corrupt: it does not decompress to its end"
                yield self._problem(failed_at, msg, restart_at, stream_at)
            start = restart_at
        return None

    def _problem(self, offset: int, error: str, restart_at: int | None, stream_at: int | None) -> ReadProblem:
        """A problem at ``offset`` of the file read (in stream mode: of the stream from byte ``stream_at``)."""
        self.yielded += 1
        if stream_at is not None:
            error += f" (gzip stream read from byte {stream_at}; offsets are decompressed)"
        if restart_at is None and stream_at is not None:
            error += "; a gzip stream has no resync point: nothing after it is readable"
        return ReadProblem(offset, error, restart_at)

    def _not_an_archive(self, e: BaseException) -> ReadProblem:
        head = self.fh.read(64)
        if head.startswith(GZIP_MAGIC):
            try:
                with gzip.GzipFile(fileobj=_Tail(self.fh, 0), mode="rb") as g:
                    inner = g.read(64)
            except READ_ERRORS + (OSError,) as ge:
                return ReadProblem(0, f"gzip data that cannot be decompressed: {_message(ge)}", None,
                                   "not_an_archive")
            return ReadProblem(0, "gzip-compressed, but " + _describe(inner), None, "not_an_archive")
        return ReadProblem(0, _describe(head) + f" ({_message(e)})", None, "not_an_archive")

    def _item(self, rec, offset: int) -> Item:
        rtype = rec.rec_type
        if not rtype:
            return ReadProblem(offset, "record without a WARC-Type header", offset)
        if rtype in PAGE_TYPES:
            item = _to_record(rec, offset, self.max_bytes)
            if self.arc:  # ARC has no record ids; warcio invents random ones: make a stable one (same file, same id)
                item.record_id = f"<arc:{self.name}@{offset}>"
            return item
        return Skipped(rtype)


def iter_warc(url: str, max_bytes: int) -> Iterator[Item]:
    """Yield the records and read problems of one WARC / ARC / WET file (plain or gzip, any gzip layout).

    A record whose block ends early (EOF, truncated gzip member, Content-Length too large) or fails its digest
    is yielded with ``damage`` set, and reading restarts at the next record boundary found after its start: a
    lying length can neither swallow the records behind it nor turn its tail into fake records. A record
    followed by garbage is kept when its digest proves it whole (the garbage is one ``ReadProblem``).
    """
    fs, path = to_fs(url)
    with fs.open(path, "rb") as fh:
        yield from _Reader(fh, path.lower().endswith(ARC_SUFFIXES), max_bytes, posixpath.basename(path)).items()
