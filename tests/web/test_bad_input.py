"""Damaged WARCs and hostile pages: a reject with a reason (or a counted skip), never a lost good record."""

from __future__ import annotations

import re

import pytest

from codeflow.web.config import CleanCCConfig
from codeflow.web.pipeline import process_warc
from tests.web.warcs import record_bytes, sample_pages, write_warc

# Keep every page that gets through extraction: these tests are about reading, not about quality.
LENIENT = CleanCCConfig(filters=(), languages=(), min_text_chars=1)


@pytest.fixture(scope="module")
def pages():
    return sample_pages(4)


def urls(result) -> list[str]:
    return sorted(d["url"] for d in result.docs)


def reasons(result) -> list[str]:
    return sorted(r["reason"] for r in result.doc_rejects)


def check_accounting(result) -> None:
    assert result.stats["records_in"] == len(result.docs) + len(result.doc_rejects)
    assert result.stats["code_blocks_in"] == len(result.blocks) + len(result.block_rejects)


def with_length(record: bytes, delta: int) -> bytes:
    """The same plain record with its WARC Content-Length off by ``delta``."""
    m = re.search(rb"Content-Length: (\d+)", record)
    return record[:m.start(1)] + str(int(m.group(1)) + delta).encode() + record[m.end(1):]


def test_truncated_gzip_member_in_the_middle(tmp_path, pages):
    good = [record_bytes(p.url, p.payload) for p in pages]
    path = write_warc(tmp_path / "a.warc.gz", [good[0], good[1][: len(good[1]) // 2], good[2], good[3]])
    r = process_warc(path, LENIENT)
    assert urls(r) == sorted(p.url for i, p in enumerate(pages) if i != 1)
    assert reasons(r) == ["truncated_record"]
    check_accounting(r)


def test_corrupt_bytes_inside_a_gzip_member(tmp_path, pages):
    good = [record_bytes(p.url, p.payload) for p in pages]
    broken = good[1][:40] + b"\x00garbage\xff" * 20 + good[1][240:]
    r = process_warc(write_warc(tmp_path / "b.warc.gz", [good[0], broken, good[2], good[3]]), LENIENT)
    assert urls(r) == sorted(p.url for i, p in enumerate(pages) if i != 1)
    assert len(r.doc_rejects) == 1 and r.doc_rejects[0]["reason"] in ("warc_read_error", "truncated_record")
    check_accounting(r)


@pytest.mark.parametrize("delta", [+100_000, -500, +7])
def test_wrong_content_length_does_not_swallow_neighbours(tmp_path, pages, delta):
    plain = [record_bytes(p.url, p.payload, gz=False) for p in pages]
    r = process_warc(write_warc(tmp_path / "c.warc", [plain[0], with_length(plain[1], delta), plain[2], plain[3]]),
                     LENIENT)
    assert urls(r) == sorted(p.url for i, p in enumerate(pages) if i != 1)
    assert reasons(r) == ["truncated_record"]
    check_accounting(r)


@pytest.mark.parametrize("gz", [True, False])
def test_file_ends_mid_record(tmp_path, pages, gz):
    recs = [record_bytes(p.url, p.payload, gz=gz) for p in pages[:3]]
    r = process_warc(write_warc(tmp_path / ("d.warc.gz" if gz else "d.warc"), [recs[0], recs[1], recs[2][:-3000]]),
                     LENIENT)
    assert urls(r) == sorted(p.url for p in pages[:2])
    assert reasons(r) == ["truncated_record"]


def test_hostile_pages_get_reasons(tmp_path, pages):
    p = pages[0]
    base = p.url.rsplit("/", 1)[0]
    big = b"<html><body><pre>" + b"x = 1\n" * (50 * 1024 * 1024 // 6) + b"</pre></body></html>"  # a 50 MB page
    utf8 = p.payload.decode()
    parts = [
        record_bytes(f"{base}/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, "image/png"),
        record_bytes(f"{base}/big.html", big),
        record_bytes(f"{base}/binary.html", bytes(range(128, 256)) * 400, "text/html; charset=utf-8"),
        record_bytes(f"{base}/lying.html", utf8.encode(), "text/html; charset=iso-8859-1"),
        record_bytes(f"{base}/latin1.html", utf8.encode("cp1252", "replace"), "text/html; charset=utf-8"),
        record_bytes(f"{base}/missing.html", b"<html>gone</html>", status="404 Not Found"),
        record_bytes(f"{base}/empty.html", b"<html><body><nav>Home</nav></body></html>"),
        record_bytes(p.url, p.payload),
    ]
    r = process_warc(write_warc(tmp_path / "e.warc.gz", parts), CleanCCConfig(filters=(), languages=()))
    got = {d["url"].rsplit("/", 1)[1]: None for d in r.docs}
    rej = {s: reason for s, reason in ((x["source"], x["reason"]) for x in r.doc_rejects)}
    assert set(got) == {"lying.html", "latin1.html", p.url.rsplit("/", 1)[1]}
    assert sorted(rej.values()) == ["decode_error", "empty_extraction", "http_status", "not_html", "too_large"]
    lying = next(d for d in r.docs if d["url"].endswith("lying.html"))
    assert '"charset_source": "utf-8"' in lying["metadata"] and "Â" not in lying["text"]
    check_accounting(r)


def test_unreadable_file_is_one_reject(tmp_path):
    path = tmp_path / "junk.warc.gz"
    path.write_bytes(b"this is not a warc file at all\n" * 10)
    r = process_warc(str(path), LENIENT)
    assert reasons(r) == ["not_an_archive"] and not r.docs
    check_accounting(r)
