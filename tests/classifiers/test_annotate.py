"""Annotation against a real chat-completions server on 127.0.0.1: scores, garbage, retries, cache, endpoint down."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codeflow.classifiers.annotate import AnnotateConfig, annotate, draw_sample
from codeflow.classifiers.client import EndpointDown
from codeflow.classifiers.rubrics import ParseError, parse_score, rubric

from .chat_server import ChatServer

FIXTURES = Path(__file__).parents[2] / "codeflow" / "data" / "classifiers"

DOCS = [
    ("d0", "python", "A tutorial on loops. SCORE=4"),
    ("d1", "python", "Buy cheap watches now. SCORE=0"),
    ("d2", "python", "Recursion explained step by step. SCORE=5 FAIL429"),
    ("d3", "python", "Lorem ipsum GARBAGE"),
    ("d4", "go", "Goroutines and channels. SCORE=3 FAIL500"),
    ("d5", "go", "   "),
    ("d6", "go", "Out of range SCORE=7"),
    ("d7", "go", "Interfaces in Go. SCORE=2"),
]


def write_lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    lake.mkdir()
    for i, part in enumerate((DOCS[:4], DOCS[4:])):
        pq.write_table(pa.table({"id": [d[0] for d in part], "language": [d[1] for d in part],
                                 "text": [d[2] for d in part]}), lake / f"part-{i:05d}.parquet")
    return lake


def test_scores_garbage_retries_and_cache_hits_on_rerun(tmp_path: Path, cli) -> None:
    lake = write_lake(tmp_path)
    out = tmp_path / "ann"
    args = ["--quiet", "classifiers", "annotate", "--input", str(lake), "--out", str(out), "--sample", "8",
            "--dimensions", "edu,toxicity", "--model", "teacher-1", "--backoff", "0.01", "--concurrency", "3"]
    with ChatServer() as server:
        code, output = cli(*args, "--endpoint", server.url)
        assert code == 0, output
        first_requests = server.requests
        # 7 non-empty docs x 2 dimensions, each answered once; 429 and 500 were retried, not lost
        assert first_requests == 14
        assert server.statuses[429] == 2 and server.statuses[500] == 2
        table = pq.read_table(out / "annotations.parquet")
        rejects = pq.read_table(out / "rejects.parquet").to_pylist()
        got = {(r["id"], r["dimension"]): r["score"] for r in table.to_pylist()}
        assert got[("d0", "edu")] == 4 and got[("d2", "edu")] == 5 and got[("d4", "edu")] == 3
        assert got[("d0", "toxicity")] == pytest.approx(0.4) and got[("d1", "edu")] == 0.0
        reasons = sorted((r["id"], r["reason"]) for r in rejects)
        # garbage is a reject (both rubrics), never a zero; 7 is out of the 0-5 range; toxicity 0.7 is fine
        assert reasons == [("d3", "unparseable_reply"), ("d3", "unparseable_reply"), ("d5", "empty_text"),
                           ("d5", "empty_text"), ("d6", "score_out_of_range")]
        assert got[("d6", "toxicity")] == pytest.approx(0.7)
        # every row: rows = annotations + rejects, with the raw reply and the prompt version
        assert table.num_rows + len(rejects) == 16
        assert {v for v in table.column("prompt_version").to_pylist()} == {
            rubric("text", "edu").version, rubric("text", "toxicity").version}
        assert all("score" in r.lower() or "probability" in r.lower() for r in table.column("raw_reply").to_pylist())

        code, output = cli(*args, "--endpoint", server.url)
        assert code == 0, output
        assert server.requests == first_requests  # the re-run paid nothing
        assert "cache hits: 14" in output
        assert pq.read_table(out / "annotations.parquet").equals(table)
    stats = json.loads((out / "_stats.json").read_text())
    assert stats["complete"] and stats["cache_hits"] == 14 and stats["requests"] == 0

    # another teacher model is another cache key: it is asked again
    with ChatServer() as server:
        cli(*[a if a != "teacher-1" else "teacher-2" for a in args], "--endpoint", server.url)
        assert server.requests == 14


def test_endpoint_down_keeps_annotations_made_and_resumes(tmp_path: Path, cli) -> None:
    lake = write_lake(tmp_path)
    out = tmp_path / "ann"
    args = ["--quiet", "classifiers", "annotate", "--input", str(lake), "--out", str(out), "--sample", "8",
            "--model", "m", "--backoff", "0.01", "--max-retries", "2", "--concurrency", "1"]
    with ChatServer(down_after=3) as server:
        code, output = cli(*args, "--endpoint", server.url)
    assert code == 1 and output.startswith("error: ") and "HTTP 503" in output and "re-run" in output, output
    kept = pq.read_table(out / "annotations.parquet")
    parsed_or_not = [r for r in pq.read_table(out / "rejects.parquet").to_pylist() if r["reason"] != "empty_text"]
    assert kept.num_rows + len(parsed_or_not) == 3  # the three replies paid for are all there
    assert not json.loads((out / "_stats.json").read_text())["complete"]
    with ChatServer() as server:
        code, output = cli(*args, "--endpoint", server.url)
        assert code == 0, output
        assert server.requests == 7 - 3  # only what the dead endpoint never answered
    assert pq.read_table(out / "annotations.parquet").num_rows == 5  # 7 texts minus garbage and out of range


@pytest.mark.parametrize("server_kw, needle", [({"sleep_s": 1.0}, "timed out"), ({"html_body": True}, "not a chat"),
                                               ({"status": 400}, "HTTP 400")])
def test_timeouts_garbage_bodies_and_client_errors_are_clear_errors(tmp_path: Path, server_kw, needle) -> None:
    lake = write_lake(tmp_path)
    cfg = AnnotateConfig(endpoint="", model="m", sample=2, max_retries=1, timeout_s=0.2, backoff_s=0.01,
                         concurrency=1)
    with ChatServer(**server_kw) as server:
        with pytest.raises(Exception) as info:
            annotate([str(lake)], str(tmp_path / "out"), AnnotateConfig(**{**cfg.__dict__, "endpoint": server.url}))
    assert needle in str(info.value)
    if server_kw.get("status") == 400:  # a client error is not retried
        assert server.statuses[400] == 1
    else:
        assert isinstance(info.value, EndpointDown)


def test_connection_refused_is_endpoint_down(tmp_path: Path) -> None:
    lake = write_lake(tmp_path)
    with ChatServer() as server:
        url = server.url
    cfg = AnnotateConfig(endpoint=url, model="m", sample=1, max_retries=1, backoff_s=0.01)
    with pytest.raises(EndpointDown, match="Connection ?Refused|URLError"):
        annotate([str(lake)], str(tmp_path / "out"), cfg)


def test_sample_is_seeded_stratified_and_order_free(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    ids = [f"id{i:03d}" for i in range(100)]
    langs = ["python"] * 70 + ["go"] * 30
    pq.write_table(pa.table({"id": ids[:50], "language": langs[:50], "text": ids[:50]}), lake / "a.parquet")
    pq.write_table(pa.table({"id": ids[50:], "language": langs[50:], "text": ids[50:]}), lake / "b.parquet")
    s1 = draw_sample([str(lake)], 10, seed=3)
    assert sorted(d.stratum for d in s1).count("python") == 7 and len(s1) == 10
    assert [d.id for d in draw_sample([str(lake / "b.parquet"), str(lake / "a.parquet")], 10, seed=3)] == \
        [d.id for d in s1]
    assert {d.id for d in draw_sample([str(lake)], 10, seed=4)} != {d.id for d in s1}
    # a bigger sample contains the smaller one within each stratum (hash order)
    assert {d.id for d in s1} <= {d.id for d in draw_sample([str(lake)], 20, seed=3)}


def test_parser_reads_every_real_teacher_reply() -> None:
    """The 150 replies llama-3.3-70b gave to the FineWeb-Edu prompt (fixture) parse to the scores it recorded."""
    rows = [json.loads(line) for line in gzip.open(FIXTURES / "fineweb_edu_llama70b.jsonl.gz")]
    rub = rubric("text", "edu")
    assert [parse_score(r["reply"], rub) for r in rows] == [float(r["score"]) for r in rows]
    for reply, reason in [("Educational score: 3\nEducational score: 4", "ambiguous_score"),
                          ("Educational score: 3.5", "score_out_of_range"), ("", "unparseable_reply"),
                          ("The educational score is high", "unparseable_reply")]:
        with pytest.raises(ParseError) as info:
            parse_score(reply, rub)
        assert info.value.reason == reason
