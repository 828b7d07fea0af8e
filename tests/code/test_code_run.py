"""The code stage end to end: CLI on repos and on lake inputs, resume, and local vs Spark byte identity."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

from codeflow.code.run import run_code_repos
from codeflow.lake import StageOutput

from .gitrepo import make_repo
from .helpers import column_map, sample_files


def _repo_list(tmp_path: Path) -> Path:
    make_repo(str(tmp_path / "sample"), sample_files())
    make_repo(str(tmp_path / "small.git"), {"a.py": b"def f(:\n", "b.go": b"package b\n"}, bare=True)
    (tmp_path / "list.txt").write_text(f"# repos\nsample\tdemo/sample\nsmall.git\n{tmp_path / 'nope'}\n")
    return tmp_path / "list.txt"


def test_cli_repos_accounting_and_resume(tmp_path: Path, cli) -> None:
    lst = _repo_list(tmp_path)
    code, output = cli("--quiet", "code", "--repos", str(lst), "--out", str(tmp_path / "out"))
    assert code == 0, output
    out = StageOutput(str(tmp_path / "out"))
    kept, rejects = out.read_kept(), out.read_rejects()
    stats = json.loads((tmp_path / "out" / "_stats.json").read_text())
    n_files = len(sample_files()) + 2
    assert kept.num_rows + rejects.num_rows == n_files + 1 == stats["rows_in"]
    reasons = column_map(rejects, "source", "reason")
    assert sorted(reasons.values()) == ["repo_not_found", "syntax_error", "unknown_language"]
    assert set(kept.column("repo").to_pylist()) == {"demo/sample", "small"}
    report = (tmp_path / "out" / "report.html").read_text()
    assert "Rejected files by reason" in report and "repo_not_found" in report and "1:7 missing )" in report
    # A second run resumes every committed shard and changes nothing.
    code, output = cli("--quiet", "code", "--repos", str(lst), "--out", str(tmp_path / "out"))
    assert code == 0 and "0/3" in output
    assert out.read_kept().equals(kept)


def test_cli_input_mode_code_blocks(tmp_path: Path, cli) -> None:
    rows = [{"id": "b1", "text": "def f(x):\n    return x\n", "language": "Python"},
            {"id": "b2", "text": "fn main() { let x = ; }\n", "language": "rust"},
            {"id": "b3", "text": "SELECT 1;\n", "language": "en", "path": "q.sql"},
            {"id": "b4", "text": "just words here\n", "language": "en"},
            {"id": "b5", "text": ">>> def sq(x):\n...     return x * x\n...\n>>> sq(3)\n9\n", "language": "pycon"},
            {"id": "b6", "text": ">>> 1 +\n  File \"<stdin>\"\nSyntaxError: invalid syntax\n", "language": "py"}]
    (tmp_path / "blocks.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    code, output = cli("--quiet", "code", "--input", str(tmp_path), "--out", str(tmp_path / "out"))
    assert code == 0, output
    out = StageOutput(str(tmp_path / "out"))
    kept = {r["id"]: r for r in out.read_kept().to_pylist()}
    rejects = column_map(out.read_rejects(), "id", "reason")
    assert {k: r["language"] for k, r in kept.items()} == {"b1": "python", "b3": "sql", "b5": "python"}
    assert kept["b5"]["content"] == "def sq(x):\n    return x * x\n\nsq(3)\n"  # a REPL session becomes its code
    assert rejects.pop("b2") == rejects.pop("b6") == "syntax_error" and rejects.pop("b4") == "unknown_language"
    assert list(rejects.values()) == ["unreadable_input"]


def test_cli_usage_errors(tmp_path: Path, cli) -> None:
    code, output = cli("code", "--out", str(tmp_path / "o"))
    assert code == 2 and "exactly one of" in output
    code, output = cli("code", "--repos", str(tmp_path / "none.txt"), "--out", str(tmp_path / "o"))
    assert code == 2 and output.startswith("error: cannot read repo list")
    code, output = cli("code", "--repos", str(tmp_path / "none.txt"), "--out", "o", "--language", "klingon")
    assert code == 2 and "unknown language" in output


def test_local_and_spark_write_identical_shards(tmp_path: Path, spark) -> None:
    lst = _repo_list(tmp_path)
    for engine in ("local", "spark"):
        summary = run_code_repos(str(lst), str(tmp_path / engine), engine=engine)
        assert summary.rows_in == summary.kept + summary.rejected
    assert (tmp_path / "local" / "report.html").read_bytes() == (tmp_path / "spark" / "report.html").read_bytes()
    for sub in ("", "rejects"):
        a, b = tmp_path / "local" / sub, tmp_path / "spark" / sub
        names = sorted(p.name for p in a.glob("part-*.parquet"))
        assert names == sorted(p.name for p in b.glob("part-*.parquet")) and len(names) == 3
        match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
        assert not mismatch and not errors


def test_split_repos_into_parts_keeps_the_same_rows(tmp_path: Path) -> None:
    lst = _repo_list(tmp_path)
    whole = run_code_repos(str(lst), str(tmp_path / "whole"))
    split = run_code_repos(str(lst), str(tmp_path / "split"), split=3, workers=2)
    assert split.shards_new == 9 and (split.kept, split.rejected) == (whole.kept, whole.rejected)
    assert split.reasons == whole.reasons and split.stats["repos_in"] == whole.stats["repos_in"] == 3

    def rows(out: str) -> list:
        return sorted(StageOutput(out).read_kept().to_pylist(), key=lambda r: r["id"])

    assert rows(str(tmp_path / "split")) == rows(str(tmp_path / "whole"))


def test_unprompt_sessions_only() -> None:
    from codeflow.code.snippets import unprompt

    assert unprompt("$ pip install x\nCollecting x\n(venv) user@host:~/p$ ls -la\ntotal 0\n", "bash") == \
        "pip install x\nls -la\n"
    assert unprompt("x = 1\nprint(x)\n", "python") == "x = 1\nprint(x)\n"  # not a session: unchanged
    assert unprompt("echo $HOME\n", "bash") == "echo $HOME\n"
