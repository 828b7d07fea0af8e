"""The decontaminate stage end to end: accounting, both modes, both engines byte-identical, resume, report, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from codeflow.decontam.benchmarks import resolve
from codeflow.decontam.plant import plant, variant
from codeflow.decontam.report import HTML_NAME, JSON_NAME, parse_detail, rerender
from codeflow.decontam.run import run_decontaminate
from codeflow.lake import LakeError, StageOutput

from .helpers import BENCHES, code_row, host_texts, humaneval, repo_texts, write_shard

PLANTS = {0: (2, "verbatim"), 1: (26, "renamed"), 2: (88, "commented")}


def make_lake(root: Path) -> list[str]:
    hosts, own = host_texts(), repo_texts()
    units = []
    for u in range(3):
        rows = [code_row(p, t) for p, t in (hosts[u * 4:(u + 1) * 4] + own[u * 3:(u + 1) * 3])]
        task, code = humaneval(PLANTS[u][0])
        rows.insert(2, code_row(f"planted/{u}.py", plant(hosts[u][1], variant(code, PLANTS[u][1]))))
        if u == 1:
            rows.append(code_row("null.py", None))
        units.append(write_shard(root / f"in/part-{u}.parquet", rows))
    return units


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> list[str]:
    return make_lake(tmp_path_factory.mktemp("decontam"))


def test_remove_accounting_and_details(tmp_path: Path, lake: list[str], index) -> None:
    s = run_decontaminate(lake, str(tmp_path / "out"), resolve(BENCHES), index=index)
    out = StageOutput(str(tmp_path / "out"))
    rows_in = sum(pq.read_metadata(u).num_rows for u in lake)
    assert s.rows_in == rows_in == s.kept + s.rejected
    assert s.reasons == {"contaminated": 3, "null_text": 1}
    rej = out.read_rejects().to_pylist()
    hit = {r["source"].rsplit("/", 1)[1]: parse_detail(r["detail"]) for r in rej if r["reason"] == "contaminated"}
    for u, (t, _kind) in PLANTS.items():
        ms = hit[f"part-{u}.parquet#2"]
        assert any(m["benchmark"] == "humaneval" and m["task_id"] == f"HumanEval/{t}" for m in ms)
    assert any(m["matcher"] == "minhash" for m in hit["part-1.parquet#2"])
    kept_paths = set(out.read_kept(["path"]).column("path").to_pylist())
    assert not any(p.startswith("planted/") for p in kept_paths) and "null.py" not in kept_paths
    # report: json + html, and --report-only re-renders the same bytes
    html = Path(s.stats["report"])
    assert html.name == HTML_NAME and (tmp_path / "out" / JSON_NAME).exists()
    before = html.read_bytes()
    text = before.decode()
    assert "HumanEval/2" in text and "<mark>" in text and "threshold" in text
    assert "fields shorter than n (exact substring only)" in text
    data = json.loads((tmp_path / "out" / JSON_NAME).read_text())
    he = next(b for b in data["benchmarks"] if b["name"] == "humaneval")
    assert (he["tasks_contaminated"], he["items"], he["records"]) == (3, 164, 3) and he["by_matcher"]["minhash"] >= 1
    assert sorted(t["task_id"] for t in data["tasks"] if t["benchmark"] == "humaneval") == \
        sorted(f"HumanEval/{t}" for t, _ in PLANTS.values())
    assert 0 < sum(data["histograms"]["ngram"].values()) <= rows_in
    ex = data["tasks"][0]["examples"][0]
    assert ex["record"]["match"].strip() and ex["item"]["match"].strip()
    html.unlink()
    assert Path(rerender(str(tmp_path / "out"))).read_bytes() == before


def test_annotate_keeps_everything(tmp_path: Path, lake: list[str], index) -> None:
    s = run_decontaminate(lake, str(tmp_path / "ann"), resolve(BENCHES), mode="annotate", index=index)
    assert s.rejected == 0 and s.kept == s.rows_in
    t = StageOutput(str(tmp_path / "ann")).read_kept(["path", "contamination"]).to_pylist()
    flagged = {r["path"]: r["contamination"] for r in t if r["contamination"]}
    assert set(flagged) == {"planted/0.py", "planted/1.py", "planted/2.py"}
    assert [r["contamination"] for r in t if r["path"] == "null.py"] == [None]
    m = flagged["planted/0.py"][0]
    assert m["benchmark"] == "humaneval" and m["score"] > 0 and m["end"] > m["start"]


def test_engines_byte_identical_and_resume(tmp_path: Path, lake: list[str], index, spark) -> None:
    a = run_decontaminate(lake, str(tmp_path / "local"), resolve(BENCHES), index=index, workers=2, report=False)
    b = run_decontaminate(lake, str(tmp_path / "spark"), resolve(BENCHES), index=index, engine="spark",
                          report=False)
    assert (a.kept, a.rejected) == (b.kept, b.rejected)
    for sub in ("", "rejects/"):
        for i in range(len(lake)):
            name = f"{sub}part-{i:05d}.parquet"
            assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "spark" / name).read_bytes()
    # resume: drop one shard's marker and file, re-run: only that unit runs, bytes are the same
    ref = (tmp_path / "local" / "part-00001.parquet").read_bytes()
    (tmp_path / "local" / "_committed" / "part-00001.json").unlink()
    (tmp_path / "local" / "part-00001.parquet").unlink()
    (tmp_path / "local" / "_SUCCESS").unlink()
    c = run_decontaminate(lake, str(tmp_path / "local"), resolve(BENCHES), index=index, report=False)
    assert c.shards_resumed == 2 and c.shards_new == 1
    assert (tmp_path / "local" / "part-00001.parquet").read_bytes() == ref
    # the index is part of the run identity: other benchmarks cannot resume into this output
    with pytest.raises(LakeError, match="another config"):
        run_decontaminate(lake, str(tmp_path / "local"), resolve("gsm8k"), report=False)


def test_cli(tmp_path: Path, lake: list[str], cli) -> None:
    code, out = cli("benchmarks", "list")
    assert code == 0 and "humaneval" in out and "974" in out and "bigcodebench" in out and "1140" in out
    bench = tmp_path / "mine.jsonl"
    _, planted_code = humaneval(2)
    bench.write_text('{"task_id": "t1", "code": ' + __import__("json").dumps(planted_code) + "}\n")
    code, out = cli("--quiet", "decontaminate", "--input", str(Path(lake[0]).parent), "--out", str(tmp_path / "o"),
                    "--benchmarks", "none", "--benchmark", f"mine={bench}:code", "--matchers", "ngram")
    assert code == 0, out
    assert "decontamination.html" in out
    rej = StageOutput(str(tmp_path / "o")).read_rejects().to_pylist()
    assert [r["detail"].split()[:2] for r in rej if r["reason"] == "contaminated"] == [["benchmark=mine", "task=t1"]]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "a", "code": "x = 1"}\n{"task_id": "b"}\n')
    code, out = cli("decontaminate", "--input", lake[0], "--out", str(tmp_path / "o2"), "--benchmarks", "none",
                    "--benchmark", f"bad={bad}:code")
    assert code == 2 and f"{bad}:2: missing field 'code'" in out
    code, out = cli("decontaminate", "--input", lake[0], "--out", str(tmp_path / "o3"), "--matchers", "ngram,bogus")
    assert code == 2 and "bogus" in out
