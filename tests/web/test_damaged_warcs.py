"""The matrix of damaged and unusual archives (issue 13.1, 13.2, 21.4): no crash, every readable record kept,
one reject with a precise reason per damage, rows_in == kept + rejected, through the funnel and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from codeflow.lake import StageOutput
from codeflow.web.config import CleanCCConfig
from codeflow.web.pipeline import _one, process_warc
from codeflow.web.warc import ReadProblem, Skipped, WarcRecord, iter_warc
from tests.web.warcs import arc_file, damaged_archives, damaged_arcs, record_bytes, small_pages, wet_record, write_warc

# Keep every page that gets through extraction: these tests are about reading, not about quality.
LENIENT = CleanCCConfig(filters=(), languages=(), min_text_chars=1)
READ_REASONS = ("not_an_archive", "empty_file", "warc_read_error", "truncated_record", "empty_record")
# Words each reason's detail must carry, so a user can tell the damage from the reject alone.
DETAIL_WORDS = {"member-cut-mid-record": ("gzip member cut short",),
                "corrupt-deflate": ("gzip member",), "content-length-too-large": ("digest",),
                "content-length-past-eof": ("shorter than its Content-Length",),
                "non-chunked-cut-short": ("ended before",), "garbage-between": ("no record header",),
                "no-warc-type": ("WARC-Type",), "zero-length-record": ("zero-length",),
                "empty.": ("0 bytes",), "gzip-of-nothing": ("no records",), "text.warc": ("looks like text",),
                "image.warc.gz": ("PNG",), "json-gzipped": ("gzip-compressed", "JSON")}


@pytest.fixture(scope="module")
def pages() -> list[WarcRecord]:
    return small_pages(4)


@pytest.fixture(scope="module")
def matrix(pages):
    return damaged_archives(pages)


def check_accounting(result) -> None:
    assert result.stats["records_in"] == len(result.docs) + len(result.doc_rejects)
    assert result.stats["code_blocks_in"] == len(result.blocks) + len(result.block_rejects)


@pytest.mark.parametrize("name", sorted(damaged_archives(small_pages(4))))
def test_damaged_archive(tmp_path, pages, matrix, name) -> None:
    data, keep, reasons = matrix[name]
    result = process_warc(write_warc(tmp_path / name, [data]), LENIENT)
    assert sorted(d["url"] for d in result.docs) == sorted(pages[i].url for i in keep)
    assert sorted(r["reason"] for r in result.doc_rejects) == reasons
    for key, words in DETAIL_WORDS.items():
        if name.startswith(key):
            for r in result.doc_rejects:
                assert all(w in r["detail"] for w in words), r["detail"]
    check_accounting(result)


def test_kept_records_are_the_same_whatever_the_gzip_layout(tmp_path, pages, matrix) -> None:
    """A whole-file gzip and misaligned members give the very records (and offsets-free ids) of the plain file."""
    def texts(name: str) -> list[tuple[str, str]]:
        r = process_warc(write_warc(tmp_path / name, [matrix[name][0]]), LENIENT)
        return sorted((d["id"], d["text"]) for d in r.docs)

    plain = b"".join(record_bytes(p.url, p.payload, gz=False) for p in pages)
    reference = sorted((d["id"], d["text"]) for d in process_warc(write_warc(tmp_path / "p.warc", [plain]),
                                                                  LENIENT).docs)
    for name in ("non-chunked.warc.gz", "members-misaligned.warc.gz", "two-records-per-member.warc.gz",
                 "record-split-over-members.warc.gz"):
        assert texts(name) == reference, name


def test_reader_yields_only_the_three_outcomes_and_the_pipeline_refuses_others(tmp_path, matrix) -> None:
    for name, (data, _, _) in matrix.items():
        for item in iter_warc(write_warc(tmp_path / name, [data]), 1 << 20):
            assert isinstance(item, (WarcRecord, Skipped, ReadProblem)), (name, item)
    with pytest.raises(TypeError, match="expected WarcRecord"):  # a bug in the reader must crash loudly
        _one(None, "x.warc.gz", LENIENT, process_warc(write_warc(tmp_path / "e.warc", [b""]), LENIENT))


@pytest.mark.parametrize("gz", [False, True])
def test_arc_files_are_read_like_warc_responses(tmp_path, pages, gz) -> None:
    name = "old.arc.gz" if gz else "old.arc"
    path = write_warc(tmp_path / name, [arc_file([(p.url, p.payload) for p in pages], gz)])
    first, again = process_warc(path, LENIENT), process_warc(path, LENIENT)
    assert sorted(d["url"] for d in first.docs) == sorted(p.url for p in pages)
    assert first.stats["other_records:warcinfo"] == 1 and not first.doc_rejects
    assert [d["id"] for d in first.docs] == [d["id"] for d in again.docs]  # ARC has no ids: ours are stable
    warc = process_warc(write_warc(tmp_path / "same.warc.gz", [record_bytes(p.url, p.payload) for p in pages]),
                        LENIENT)
    assert sorted(d["text"] for d in first.docs) == sorted(d["text"] for d in warc.docs)


@pytest.mark.parametrize("name", sorted(damaged_arcs(small_pages(3))))
def test_damaged_arc(tmp_path, name) -> None:
    pages = small_pages(3)
    data, keep, reasons = damaged_arcs(pages)[name]
    result = process_warc(write_warc(tmp_path / name, [data]), LENIENT)
    assert sorted(d["url"] for d in result.docs) == sorted(pages[i].url for i in keep)
    assert sorted(r["reason"] for r in result.doc_rejects) == reasons
    check_accounting(result)


def test_cli_over_a_folder_of_good_damaged_arc_wet_and_foreign_files(cli, tmp_path, pages, matrix) -> None:
    d = tmp_path / "crawl"
    d.mkdir()
    good = [record_bytes(p.url, p.payload) for p in pages]
    write_warc(d / "good.warc.gz", good)
    write_warc(d / "old.arc.gz", [arc_file([(p.url, p.payload) for p in pages[:2]], gz=True)])
    write_warc(d / "text.warc.wet.gz", [wet_record("https://example.org/wet", "Plain text from a page. " * 20)])
    write_warc(d / "links.warc.wat.gz", [good[0]])  # WAT: skipped with a message
    damaged = ["non-chunked.warc.gz", "member-cut-mid-record.warc.gz", "garbage-between-records.warc",
               "json-gzipped.warc.gz", "empty.warc"]
    for name in damaged:
        write_warc(d / name, [matrix[name][0]])
    out = tmp_path / "out"
    code, output = cli("clean-cc", "--warc", str(d), "--out", str(out), "--languages", "", "--min-text-chars", "1")
    assert code == 0, output
    assert "WAT" in output and "metadata" in output
    docs = StageOutput(str(out / "documents"))
    markers = {Path(m["unit"]).name: m for m in docs.committed_markers()}
    assert set(markers) == {"good.warc.gz", "old.arc.gz", "text.warc.wet.gz", *damaged}
    readable = {"good.warc.gz": 4, "old.arc.gz": 2, "text.warc.wet.gz": 1,
                **{name: len(matrix[name][1]) for name in damaged}}
    for name, m in markers.items():
        assert m["stats"]["rows_in"] == m["kept"] + m["rejected"], name
        rejects = pq.read_table(docs.rejects_path(m["index"])).column("reason").to_pylist()
        reading = [r for r in rejects if r in READ_REASONS]
        assert sorted(reading) == (matrix[name][2] if name in matrix else []), name
        assert m["kept"] + len(rejects) - len(reading) == readable[name], name  # every readable page processed
    stats = json.loads((out / "documents" / "_stats.json").read_text())
    assert stats["rows_in"] == stats["kept"] + stats["rejected"]


def test_cli_refuses_wat_files_as_metadata(cli, tmp_path, pages) -> None:
    wat = write_warc(tmp_path / "x.warc.wat.gz", [record_bytes(pages[0].url, pages[0].payload)])
    code, output = cli("clean-cc", "--warc", wat, "--out", str(tmp_path / "out"))
    assert code != 0 and "metadata" in output and "Traceback" not in output
