"""Issue 21: bad input through the CLI never crashes, never loses a good row, and is counted.

For every case: the exit code, no traceback, rows_in == kept + rejected in ``_stats.json``, every good row
kept, and the reject reasons (and where it matters, the detail naming the line or column).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from codeflow.cli import main
from codeflow.lake import StageOutput

from .bad_inputs import DATA_CASES, Case, good_rows, jsonl_line


def run_cli(*args: str) -> tuple[int, str]:
    """The CLI in-process; an uncaught exception fails the test (that is a traceback for a user)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        code = main(["--quiet", *args])
    out = buf.getvalue()
    assert "Traceback" not in out
    return code, out


def check_output(out: Path, case: Case | None = None) -> tuple[dict, StageOutput]:
    """The invariants every run must keep; returns the stats and the output."""
    stats = json.loads((out / "_stats.json").read_text())
    assert stats["rows_in"] == stats["kept"] + stats["rejected"], stats
    got = StageOutput(str(out))
    rejects = got.read_rejects()
    assert rejects.num_rows == stats["rejected"]
    assert Counter(rejects.column("reason").to_pylist()) == Counter(stats["rejected_by_reason"])
    if case is not None:
        kept_ids = set(got.read_kept(["id"]).column("id").to_pylist()) if stats["kept"] else set()
        assert case.good <= kept_ids, f"good rows lost: {sorted(case.good - kept_ids)}"
        for reason, n in case.reasons.items():
            assert stats["rejected_by_reason"].get(reason) == n, stats["rejected_by_reason"]
        if case.rows_in >= 0:
            assert stats["rows_in"] == case.rows_in
            assert set(stats["rejected_by_reason"]) == set(case.reasons)
        details: dict[str, list[str]] = {}
        for reason, detail in zip(rejects.column("reason").to_pylist(), rejects.column("detail").to_pylist(),
                                  strict=True):
            details.setdefault(reason, []).append(detail)
        for reason, text in case.details.items():
            assert any(text in d for d in details[reason]), details[reason]
        for m in got.committed_markers():  # every kept string is valid UTF-8 when read back
            pq.read_table(got.kept_path(m["index"])).validate(full=True)
    return stats, got


@pytest.mark.parametrize("name", sorted(DATA_CASES))
def test_ingest_bad_input_case(tmp_path: Path, name: str) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    case = DATA_CASES[name](inp)
    code, output = run_cli("ingest", "--input", str(inp), "--out", str(tmp_path / "o"))
    assert code == 0, output
    check_output(tmp_path / "o", case)


def _all_cases(inp: Path) -> dict[str, Case]:
    cases = {}
    for name, make in sorted(DATA_CASES.items()):
        folder = inp / name
        folder.mkdir(parents=True)
        cases[name] = make(folder)
    return cases


@pytest.mark.parametrize("mode", ["--exact", "--minhash"])
def test_dedup_over_the_whole_matrix(tmp_path: Path, mode: str) -> None:
    """One run over a folder mixing every bad case with good files: nothing lost, every reason present."""
    cases = _all_cases(tmp_path / "in")
    code, output = run_cli("dedup", mode, "--input", str(tmp_path / "in"), "--out", str(tmp_path / "o"))
    assert code == 0, output
    stats, got = check_output(tmp_path / "o")
    kept = set(got.read_kept(["id"]).column("id").to_pylist())
    for name, case in cases.items():
        assert case.good <= kept, name
    want: Counter = Counter()
    for case in cases.values():
        want.update(case.reasons)
    for reason, n in want.items():
        assert stats["rejected_by_reason"].get(reason) == n, (reason, stats["rejected_by_reason"])
    assert sum(c.rows_in for c in cases.values() if c.rows_in >= 0) < stats["rows_in"]


def test_code_input_bad_content(tmp_path: Path) -> None:
    """``code --input``: int content, invalid UTF-8 content, list-typed path -> one reject per row."""
    import pyarrow as pa

    inp = tmp_path / "in"
    inp.mkdir()
    pq.write_table(pa.table({"content": [1, 2], "path": ["a.py", "b.py"]}), inp / "int.parquet")
    bad = pa.array([b"x = 1\n", b"y = '\xff'\n"], pa.binary()).view(pa.string())
    pq.write_table(pa.table({"id": ["ok", "bad"], "content": bad, "path": ["ok.py", "bad.py"]}), inp / "utf.parquet")
    pq.write_table(pa.table({"content": ["z = 1\n"], "path": [["z.py"]]}), inp / "listpath.parquet")
    code, output = run_cli("code", "--input", str(inp), "--out", str(tmp_path / "o"))
    assert code == 0, output
    stats, got = check_output(tmp_path / "o")
    assert stats["rejected_by_reason"] == {"bad_type": 3, "decode_error": 1}
    assert got.read_kept(["id"]).column("id").to_pylist() == ["ok"]


# ---- paths and expansion ------------------------------------------------------------------------------


def _jsonl(path: Path, prefix: str, n: int = 3) -> set[str]:
    rows = good_rows(prefix, n)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(jsonl_line(r) for r in rows))
    return {r["id"] for r in rows}


def test_same_file_named_twice_is_read_once(tmp_path: Path) -> None:
    _jsonl(tmp_path / "in" / "x.jsonl", "x")
    code, output = run_cli("ingest", "--input", f"{tmp_path}/in//x.jsonl", "--input", f"{tmp_path}/in/../in/x.jsonl",
                           "--out", str(tmp_path / "o"))
    assert code == 0, output
    stats, _ = check_output(tmp_path / "o")
    assert stats["rows_in"] == 3


def test_existing_name_with_glob_characters_is_literal(tmp_path: Path) -> None:
    ids = _jsonl(tmp_path / "in" / "data[1].jsonl", "br")
    _jsonl(tmp_path / "in" / "data1.jsonl", "other")  # what the glob would match instead
    code, output = run_cli("ingest", "--input", str(tmp_path / "in" / "data[1].jsonl"), "--out", str(tmp_path / "o"))
    assert code == 0, output
    _, got = check_output(tmp_path / "o")
    assert set(got.read_kept(["id"]).column("id").to_pylist()) == ids


def test_several_paths_after_one_option_and_quoted_glob(tmp_path: Path) -> None:
    """What the shell does to an unquoted glob: many words after one --input; a quoted glob still works."""
    ids = set()
    for i in range(3):
        ids |= _jsonl(tmp_path / "in" / f"f{i}.jsonl", f"m{i}-")
    files = [str(tmp_path / "in" / f"f{i}.jsonl") for i in range(3)]
    code, output = run_cli("ingest", "--input", *files, "--out", str(tmp_path / "o1"))
    assert code == 0, output
    code, output = run_cli("ingest", "--out", str(tmp_path / "o2"), "--input", str(tmp_path / "in" / "f*.jsonl"))
    assert code == 0, output
    for o in ("o1", "o2"):
        stats, got = check_output(tmp_path / o)
        assert set(got.read_kept(["id"]).column("id").to_pylist()) == ids and stats["rows_in"] == 9


def test_clean_cc_and_dedup_accept_several_paths() -> None:
    from codeflow.cli import cli
    from codeflow.commands.common import spread_multiple_values

    cc = cli.get_command(None, "clean-cc")
    args = ["--warc", "a.warc.gz", "b.warc.gz", "c.warc.gz", "--out", "x", "--workers", "2"]
    assert spread_multiple_values(cc, args) == ["--warc", "a.warc.gz", "--warc", "b.warc.gz", "--warc",
                                                "c.warc.gz", "--out", "x", "--workers", "2"]
    code = cli.get_command(None, "code")
    assert spread_multiple_values(code, ["--input=a", "--language", "python", "rust", "--out", "o"]) == \
        ["--input=a", "--language", "python", "--language", "rust", "--out", "o"]
    schema = cli.get_command(None, "schema")  # a positional argument: nothing is rewritten
    assert spread_multiple_values(schema, ["document", "x"]) == ["document", "x"]


def test_output_inside_input_is_not_read_back(tmp_path: Path) -> None:
    _jsonl(tmp_path / "in" / "x.jsonl", "x", 5)
    for _ in range(3):
        code, output = run_cli("ingest", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "in" / "out"))
        assert code == 0, output
        stats, _ = check_output(tmp_path / "in" / "out")
        assert stats["rows_in"] == 5


def test_output_equal_to_input_is_refused_and_input_survives(tmp_path: Path) -> None:
    _jsonl(tmp_path / "in" / "x.jsonl", "x", 5)
    code, output = run_cli("ingest", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "in"), "--overwrite")
    assert code == 2 and output.startswith("error:") and len(output.strip().splitlines()) == 1
    assert (tmp_path / "in" / "x.jsonl").exists()
    code, output = run_cli("ingest", "--input", str(tmp_path / "o" / "x.jsonl"), "--out", str(tmp_path / "o"))
    assert code == 2


# ---- user errors: one line, exit 2 ----------------------------------------------------------------------


def _user_error(*args: str) -> str:
    code, output = run_cli(*args)
    lines = output.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:"), output
    return lines[0]


def test_user_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    _jsonl(tmp_path / "in" / "x.jsonl", "x")
    inp = str(tmp_path / "in")
    (tmp_path / "afile").write_text("x")
    assert "existing file" in _user_error("ingest", "--input", inp, "--out", str(tmp_path / "afile"))
    assert "is a file" in _user_error("ingest", "--input", inp, "--out", str(tmp_path / "afile" / "sub"))
    if Path("/proc/self").exists():  # a place nobody can create folders in, even root
        assert "cannot be created" in _user_error("ingest", "--input", inp, "--out", "/proc/codeflow-nope/o")
    assert "not a size" in _user_error("dedup", "--input", inp, "--out", str(tmp_path / "o"), "--memory-limit", "lots")
    assert "positive integer" in _user_error("dedup", "--semantic", "--encoder", "hashing:0", "--input", inp,
                                             "--out", str(tmp_path / "o"))
    assert "cannot load encoder" in _user_error("dedup", "--semantic", "--encoder", "no_such_module_x:enc",
                                                "--input", inp, "--out", str(tmp_path / "o"))
    assert "one of --exact" in _user_error("dedup", "--exact", "--minhash", "--input", inp, "--out",
                                           str(tmp_path / "o"))
    assert "process-local" in _user_error("ingest", "--input", inp, "--out", "memory://bi/o", "--workers", "2")
    assert "process-local" in _user_error("ingest", "--input", inp, "--out", "memory://bi/o", "--engine", "spark")
    (tmp_path / "list.txt").write_bytes(b"/tmp/r\xff\n")
    assert "not UTF-8" in _user_error("code", "--repos", str(tmp_path / "list.txt"), "--out", str(tmp_path / "o"))
    assert "LO < HI" in _user_error("build-triplets", "--repos", str(tmp_path / "list.txt"), "--window", "1:1",
                                    "--out", str(tmp_path / "o"))
    (tmp_path / "a.warc.gz").write_bytes(b"")
    assert "unknown language" in _user_error("clean-cc", "--warc", str(tmp_path / "a.warc.gz"), "--languages",
                                             "en,xx-nope", "--out", str(tmp_path / "o"))


def test_quote_in_output_path(tmp_path: Path) -> None:
    _jsonl(tmp_path / "in" / "x.jsonl", "x")
    _jsonl(tmp_path / "in" / "y.jsonl", "x")  # same ids and texts: duplicates for both modes
    for mode in ("--exact", "--minhash"):
        out = tmp_path / f"it's {mode}"
        code, output = run_cli("dedup", mode, "--input", str(tmp_path / "in"), "--out", str(out))
        assert code == 0, output
        stats, _ = check_output(out)
        assert stats["kept"] == 3 and stats["rejected"] == 3


def test_memory_filesystem_with_one_worker_still_works(tmp_path: Path) -> None:
    ids = _jsonl(tmp_path / "in" / "x.jsonl", "mem")
    code, output = run_cli("ingest", "--input", str(tmp_path / "in"), "--out", "memory://badinput/one")
    assert code == 0, output
    got = StageOutput("memory://badinput/one")
    assert set(got.read_kept(["id"]).column("id").to_pylist()) == ids


def test_overwrite_never_deletes_a_folder_codeflow_did_not_write(tmp_path: Path) -> None:
    _jsonl(tmp_path / "in" / "x.jsonl", "x")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    line = _user_error("ingest", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "mine"), "--overwrite")
    assert "not a codeflow output" in line and (tmp_path / "mine" / "thesis.tex").exists()
    out = str(tmp_path / "o")
    assert run_cli("ingest", "--input", str(tmp_path / "in"), "--out", out)[0] == 0
    assert run_cli("ingest", "--input", str(tmp_path / "in"), "--out", out, "--overwrite")[0] == 0  # ours: fine
    check_output(tmp_path / "o")
