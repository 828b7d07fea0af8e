"""clean-cc end to end: CLI, per-file accounting, report, resume, WET input, and local == Spark, byte for byte."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from warcio.warcwriter import WARCWriter

from codeflow.lake import StageOutput
from tests.web.warcs import record_bytes, sample_pages, write_warc

GOOD_TEXT = """Sorting a list in Python is stable, which means that records with equal keys keep their order.
The key function is called exactly once for each element, and its result is used for every comparison.
You can sort by several fields at once by returning a tuple, and reverse the order with a single flag.
When the data does not fit in memory, split it into chunks, sort each chunk and merge the sorted runs.
A heap gives the smallest items quickly without sorting everything, which helps with top-k queries.
Finally, remember that comparing mixed types raises an error in Python 3, unlike older versions."""


def wet_bytes(url: str, text: str) -> bytes:
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    w.write_record(w.create_warc_record(url, "conversion", payload=io.BytesIO(text.encode()),
                                        warc_content_type="text/plain",
                                        warc_headers_dict={"WARC-Record-ID": "<urn:uuid:wet-1>",
                                                           "WARC-Date": "2025-01-15T00:00:00Z"}))
    return buf.getvalue()


@pytest.fixture(scope="module")
def warc_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("warcs")
    pages = sample_pages(6)
    write_warc(d / "a.warc.gz", [record_bytes(p.url, p.payload) for p in pages[:3]]
               + [record_bytes("https://example.org/x.js", b"var x = 1;", "application/javascript")])
    good = [record_bytes(p.url, p.payload) for p in pages[3:]]
    write_warc(d / "b.warc.gz", [good[0], good[1][:5000], good[2]])  # a truncated member in the middle
    write_warc(d / "c.wet.gz", [wet_bytes("https://example.org/plain", GOOD_TEXT)])
    return d


def shard_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def test_cli_accounting_report_resume(cli, warc_dir, tmp_path):
    out = tmp_path / "cc"
    code, output = cli("clean-cc", "--warc", str(warc_dir), "--out", str(out))
    assert code == 0, output
    docs, blocks = StageOutput(str(out / "documents")), StageOutput(str(out / "code_blocks"))
    assert docs.is_complete() and blocks.is_complete()
    markers = docs.committed_markers()
    assert [Path(m["unit"]).name for m in markers] == ["a.warc.gz", "b.warc.gz", "c.wet.gz"]
    for m in markers:  # every page record of every file is a kept document or one reject
        assert m["stats"]["rows_in"] == m["kept"] + m["rejected"]
    for m in blocks.committed_markers():
        assert m["stats"]["rows_in"] == m["kept"] + m["rejected"]
    assert [m["stats"]["records_in"] for m in markers] == [4, 3, 1]
    rejects = docs.read_rejects().to_pylist()
    assert {r["reason"] for r in rejects} >= {"not_html", "truncated_record"}
    kept = docs.read_kept().to_pylist()
    assert any(d["url"] == "https://example.org/plain" for d in kept)  # WET conversion record
    ids = {d["id"] for d in kept} | {r["id"] for r in rejects}
    code_rows = blocks.read_kept().to_pylist()
    assert code_rows and all(c["doc_id"] in ids for c in code_rows)
    # code put back into the text is the exact block
    first = next(c for c in code_rows if c["index_in_page"] == 0 and c["doc_id"] in {d["id"] for d in kept})
    doc = next(d for d in kept if d["id"] == first["doc_id"])
    assert first["content"].rstrip("\n") in doc["text"]
    funnel = json.loads((out / "_funnel.json").read_text())
    assert funnel["reconciles"] and funnel["records_in"] == 8
    html = (out / "report.html").read_text()
    assert "<svg" in html and "reconciles" in html and "http" not in html.split("<body>")[0].replace(
        "http-equiv", "")
    before = shard_bytes(out)
    code, output = cli("clean-cc", "--warc", str(warc_dir), "--out", str(out))
    assert code == 0 and "0/3" in output  # all three units resumed
    assert shard_bytes(out) == before


def test_local_and_spark_give_identical_shards(spark, warc_dir, tmp_path):
    from codeflow.sources import expand_inputs
    from codeflow.web.stage import WARC_SUFFIXES, run_clean_cc

    units = expand_inputs([str(warc_dir)], suffixes=WARC_SUFFIXES)
    local = run_clean_cc(units, str(tmp_path / "local"), engine="local", workers=2)
    sparkd = run_clean_cc(units, str(tmp_path / "spark"), engine="spark")
    assert [(s.rows_in, s.kept, s.rejected, s.reasons) for s in local] == \
        [(s.rows_in, s.kept, s.rejected, s.reasons) for s in sparkd]
    a, b = shard_bytes(tmp_path / "local"), shard_bytes(tmp_path / "spark")
    assert a and a == b
    assert pq.read_table(tmp_path / "local" / "documents" / "part-00000.parquet").num_rows > 0
