"""The fim stage end to end on real code: invariants per record, bad input, determinism, both engines, CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from codeflow.fim.format import parse_file, parse_repo
from codeflow.fim.run import run_fim
from codeflow.fim.stage import FimConfig, FimStage
from codeflow.fim.units import ELISION
from codeflow.lake import StageOutput
from tests.fim.helpers import code_row, sample_rows, stdlib_rows, table, write_shard
from tests.fim.test_ast import node_spans

ROWS = sample_rows("sample") + stdlib_rows("cpython")


def check_records(records: list[dict], rows: list[dict], level: str, cfg: FimConfig) -> None:
    by_id = {r["id"]: r for r in rows}
    by_repo_path = {(r["repo"], r["path"]): r["content"] for r in rows}
    for rec in records:
        src = by_id[rec["file_id"]]
        assert (rec["prefix"] + rec["middle"] + rec["suffix"]).encode() == src["content"].encode()
        parsed = (parse_file if level == "file" else parse_repo)(rec["text"])
        assert (parsed.prefix, parsed.middle, parsed.suffix) == (rec["prefix"], rec["middle"], rec["suffix"])
        assert parsed.fim == (rec["split_kind"] != "none")
        if rec["split_kind"].startswith("ast_"):
            b0 = len(rec["prefix"].encode())
            spans = node_spans(rec["language"], src["content"].encode(), rec["split_kind"][4:])
            assert (b0, b0 + len(rec["middle"].encode())) in spans
        if level == "repo":
            assert parsed.repo_name == rec["repo"] and parsed.target_path == rec["path"]
            assert [p for p, _ in parsed.context] == rec["context_paths"]
            assert rec["path"] not in rec["context_paths"]
            for path, content in parsed.context:  # only same-repo text: whole files, or units/skeletons of them
                src_text = by_repo_path[(rec["repo"], path)]
                if cfg.context == "files":
                    assert src_text == content
                for line in content.split("\n"):
                    assert line.replace(ELISION, "").rstrip() in src_text
            ctx_chars = sum(len(cfg.tokens.file_sep) + len(p) + len(c) + 2 for p, c in parsed.context)
            assert ctx_chars <= cfg.max_context_chars and len(parsed.context) <= cfg.max_context_files
        else:
            assert rec["context_paths"] == []


def test_file_level_invariants_all_languages() -> None:
    for seed in range(3):
        cfg = FimConfig(level="file", fim_rate=0.9, seed=seed)
        res = FimStage(cfg).process(table(ROWS), "u")
        assert res.kept.num_rows == len(ROWS) and res.rejects.num_rows == 0
        check_records(res.kept.to_pylist(), ROWS, "file", cfg)
    kinds = set(res.kept.column("split_kind").to_pylist())
    assert {"char", "line", "ast_expression", "ast_statement", "ast_function", "none"} <= kinds | {"none"}


def test_repo_level_context_same_repo_budgets() -> None:
    for mode in ("units", "files"):
        cfg = FimConfig(level="repo", fim_rate=1.0, max_context_chars=3000, max_context_files=4, modes=("ast", "line"),
                        context=mode)
        res = FimStage(cfg).process(table(ROWS), "u")
        recs = res.kept.to_pylist()
        assert len(recs) == len(ROWS)
        check_records(recs, ROWS, "repo", cfg)
        assert sum(len(r["context_paths"]) for r in recs) > len(recs)  # context is actually used
    stats = FimStage(FimConfig(level="repo", max_context_chars=0)).process(table(ROWS), "u")
    assert all(r == [] for r in stats.kept.column("context_paths").to_pylist())


def test_fim_rate_zero_gives_plain_files() -> None:
    res = FimStage(FimConfig(fim_rate=0.0)).process(table(ROWS[:5]), "u")
    for rec, row in zip(res.kept.to_pylist(), ROWS[:5], strict=True):
        assert rec["split_kind"] == "none" and rec["text"] == row["content"] + "<|endoftext|>"


def test_bad_input_is_rejected_with_reasons_and_good_rows_kept() -> None:
    good = ROWS[:3]
    bad = [code_row("r", "empty.py", ""), code_row("r", "blank.py", " \n\t\n"),
           code_row("r", "tok.py", "x = '<|fim_middle|>'\n"), code_row("r", "huge.py", "x = 1\n" * 20_000),
           code_row(None, "norepo.py", "y = 2\n"), code_row("r", "bad\npath.py", "z = 3\n")]
    rows = good + bad
    raw = [r["content"].encode() for r in rows] + [b"\xff\xfe bad bytes", None]
    ids = [r["id"] for r in rows] + ["file:bin", "file:null"]
    t = pa.table({"id": ids, "repo": [r["repo"] for r in rows] + ["r", "r"],
                  "path": [r["path"] for r in rows] + ["bin.py", "null.py"],
                  "language": [r["language"] for r in rows] + ["python", "python"],
                  "content": pa.array(raw, pa.binary())})
    for level, expect in (("file", {"empty_file": 2, "special_token": 1, "file_too_large": 1, "invalid_utf8": 1,
                                    "missing_content": 1}),
                          ("repo", {"empty_file": 2, "special_token": 1, "file_too_large": 1, "invalid_utf8": 1,
                                    "missing_content": 1, "missing_repo": 1, "bad_path": 1})):
        res = FimStage(FimConfig(level=level, max_file_chars=50_000)).process(t, "u")
        reasons = res.rejects.column("reason").to_pylist()
        assert {k: reasons.count(k) for k in set(reasons)} == expect
        assert res.kept.num_rows + res.rejects.num_rows == t.num_rows
        assert set(ids[:3]) <= set(res.kept.column("file_id").to_pylist())
    no_content = FimStage(FimConfig()).process(pa.table({"id": ["a", "b"]}), "u")
    assert no_content.rejects.column("reason").to_pylist() == ["missing_column"] * 2


def _shard_bytes(out: str) -> list[bytes]:
    root = Path(out)
    return [p.read_bytes() for p in sorted(root.glob("part-*.parquet"))] + \
        [p.read_bytes() for p in sorted((root / "rejects").glob("part-*.parquet"))]


def test_deterministic_and_engines_agree(tmp_path: Path, spark) -> None:
    units = [write_shard(tmp_path / "in" / "a.parquet", sample_rows("a")),
             write_shard(tmp_path / "in" / "b.parquet", stdlib_rows("b") + [code_row("b", "e.py", ""),
                                                                            code_row("b", "t.pyi", "x: int\n")]),
             str(tmp_path / "in" / "broken.parquet")]
    Path(units[2]).write_bytes(b"not parquet")
    cfg = FimConfig(level="repo", max_context_chars=4000)
    s1 = run_fim(units, str(tmp_path / "l1"), cfg, engine="local", workers=2)
    s2 = run_fim(units, str(tmp_path / "sp"), cfg, engine="spark")
    assert _shard_bytes(str(tmp_path / "l1")) == _shard_bytes(str(tmp_path / "sp"))
    n_in = len(sample_rows("a")) + len(stdlib_rows("b")) + 2
    for s in (s1, s2):
        assert s.kept == n_in - 2 and s.rejected == 3
        assert s.reasons == {"empty_file": 1, "stub_file": 1, "unreadable_input": 1}
    html = (tmp_path / "sp" / "_report.html").read_text()
    assert "<svg" in html and "python" in html and "ast_function" in html


def test_cli_file_and_repo_level(tmp_path: Path, cli) -> None:
    shard = write_shard(tmp_path / "in" / "sample.parquet", sample_rows("sample"))
    for level in ("file", "repo"):
        out = tmp_path / level
        code, output = cli("fim", "--level", level, "--input", shard, "--out", str(out), "--fim-rate", "1",
                           "--modes", "ast,line", "--mode-weights", "ast=3,line=1", "--seed", "3")
        assert code == 0, output
        kept = StageOutput(str(out)).read_kept()
        assert kept.num_rows == len(sample_rows()) and set(kept.column("level").to_pylist()) == {level}
        assert (out / "_report.html").exists() and (out / "_SUCCESS").exists()
        assert pq.read_schema(out / "part-00000.parquet").field("split_kind").metadata[b"doc"]
    code, output = cli("fim", "--input", shard, "--out", str(tmp_path / "x"), "--modes", "bogus")
    assert code == 2 and "unknown FIM mode" in output
    code, output = cli("fim", "--out", str(tmp_path / "x"))
    assert code == 2 and "--input or --repos" in output


DET_SCRIPT = """
import hashlib, sys
from codeflow.fim.stage import FimConfig, FimStage
from codeflow.lake import parquet_bytes
from tests.fim.helpers import sample_rows, stdlib_rows, table
rows = sample_rows("a") + stdlib_rows("a")
for level in ("file", "repo"):
    kept = FimStage(FimConfig(level=level, seed=5)).process(table(rows), "u").kept
    print(hashlib.sha256(parquet_bytes(kept)).hexdigest())
"""


def test_same_bytes_in_fresh_processes_with_other_hash_seeds() -> None:
    """Samples depend on (file id, seed) only: not on PYTHONHASHSEED, set order or tree-sitter capture order."""
    root = Path(__file__).resolve().parents[2]
    outs = {subprocess.run([sys.executable, "-c", DET_SCRIPT], cwd=root, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": h}).stdout for h in ("1", "2")}
    assert len(outs) == 1 and len(next(iter(outs)).split()) == 2


def test_cli_repos_reads_real_git_repos_through_the_code_stage(tmp_path: Path, cli) -> None:
    from tests.code.gitrepo import make_repo

    util = "def slugify(title):\n    return '-'.join(title.lower().split())\n"
    main = "from pkg.util import slugify\n\n\ndef page(title):\n    return slugify(title) + '.html'\n"
    make_repo(str(tmp_path / "r1"), {"pkg/util.py": util.encode(), "pkg/main.py": main.encode(),
                                     "pkg/empty.py": b"", "web/app.js": b"export const x = () => 1;\n"})
    rust_main = b"mod lib;\nfn main() {\n    println!(\"{}\", lib::add(1, 2));\n}\n"
    make_repo(str(tmp_path / "r2.git"), {"lib.rs": b"pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
                                         "main.rs": rust_main}, bare=True)
    lst = tmp_path / "repos.txt"
    lst.write_text(f"{tmp_path / 'r1'}\tacme/one\n{tmp_path / 'r2.git'}\tacme/two\n{tmp_path / 'missing'}\n")
    out = tmp_path / "out"
    code, output = cli("fim", "--level", "repo", "--repos", str(lst), "--out", str(out), "--fim-rate", "1")
    assert code == 0, output
    kept = StageOutput(str(out)).read_kept().to_pylist()
    by_repo = {}
    for rec in kept:
        by_repo.setdefault(rec["repo"], set()).add(rec["path"])
    assert by_repo == {"acme/one": {"pkg/util.py", "pkg/main.py", "web/app.js"}, "acme/two": {"lib.rs", "main.rs"}}
    for rec in kept:
        assert set(rec["context_paths"]) <= by_repo[rec["repo"]] - {rec["path"]}
        assert parse_repo(rec["text"]).repo_name == rec["repo"]
    main_rec = next(r for r in kept if r["path"] == "pkg/main.py")
    assert main_rec["context_paths"][-1] == "pkg/util.py"  # imported file ranks first: rendered next to the target
    assert parse_repo(main_rec["text"]).context[-1][1] == util.rstrip("\n")  # the imported definition, whole
    assert not (out / "_work").exists() and (out / "_report.html").exists()


def test_unicode_crlf_and_ast_size_bound() -> None:
    src = ("# -*- coding: utf-8 -*-\r\ndef grüße(name: str) -> str:\r\n    émoji = \"👋 \" + name\r\n"
           "    return émoji.upper()\r\n\r\n\r\nclass Ω:\r\n    def f(self, x):\r\n"
           "        return [y * 2 for y in x]\r\n")
    rows = [code_row("u", f"m{i}.py", src) for i in range(30)]
    for modes in (("ast",), ("line",), ("char",)):
        cfg = FimConfig(fim_rate=1.0, modes=modes)
        res = FimStage(cfg).process(table(rows), "u")
        check_records(res.kept.to_pylist(), rows, "file", cfg)
        if modes == ("line",):
            assert all(r["middle"].endswith("\r\n") for r in res.kept.to_pylist())
    bounded = FimStage(FimConfig(fim_rate=1.0, modes=("ast",), max_ast_file_bytes=100)).process(table(rows), "u")
    assert set(bounded.kept.column("split_kind").to_pylist()) <= {"line", "char"}
    assert sum(v for k, v in bounded.stats.items() if k.startswith("fallback_")) == len(rows)
