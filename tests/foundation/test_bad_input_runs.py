"""Issue 21: one writer per output (the lease), missing scratch, and git repositories with bad names.

Real processes hold the leases here (a second ``codeflow`` run, a ``sleep``), and the repositories are built
with the git command line, which (unlike pygit2's tree builder) writes any bytes as a file name.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from codeflow.lake import LakeError, StageOutput
from codeflow.lease import LEASE_NAME, LeaseError, acquire, hold

from .helpers import write_corpus
from .test_bad_input import check_output, run_cli


def _write_lease(out: Path, **fields) -> None:
    out.mkdir(parents=True, exist_ok=True)
    body = {"owner": "someone@elsewhere", "host": "elsewhere", "pid": 1, "created": time.time(),
            "heartbeat": time.time(), "token": "theirs", **fields}
    (out / LEASE_NAME).write_text(json.dumps(body))


def test_second_writer_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    truth = write_corpus(tmp_path / "in", n_files=30, per_file=300, dup_rate=0.3, seed=5)
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "codeflow.cli", "--quiet", "dedup", "--exact", "--input", str(tmp_path / "in"),
           "--out", str(out)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 60
        while not (out / LEASE_NAME).exists() and first.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        assert (out / LEASE_NAME).exists(), "the first run never took its lease"
        code, output = run_cli("dedup", "--exact", "--input", str(tmp_path / "in"), "--out", str(out), "--overwrite")
        assert code == 2 and "is being written by" in output and f"pid {first.pid}" in output, output
    finally:
        log, _ = first.communicate(timeout=300)
    assert first.returncode == 0, log
    stats, _ = check_output(out)
    assert stats["rows_in"] == truth["rows"] and stats["kept"] == truth["distinct"]
    assert not (out / LEASE_NAME).exists()  # released at the end


def test_live_lease_is_never_broken(tmp_path: Path) -> None:
    out = tmp_path / "o"
    holder = subprocess.Popen(["sleep", "60"])
    try:
        _write_lease(out, host=socket.gethostname(), pid=holder.pid, owner="alice@here")
        with pytest.raises(LeaseError, match="alice@here"):
            acquire(str(out))
        with pytest.raises(LeaseError, match="alive"):
            acquire(str(out), break_stale=True)
    finally:
        holder.kill()
        holder.wait()
    lease = acquire(str(out))  # its process is gone from this host: taken over (what a kill -9 leaves)
    lease.release()
    assert not (out / LEASE_NAME).exists()


def test_stale_lease_needs_break_lease(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.jsonl").write_text('{"id": "a", "text": "hello"}\n')
    out = tmp_path / "o"
    _write_lease(out, heartbeat=time.time() - 3600)
    code, output = run_cli("ingest", "--input", str(tmp_path / "in"), "--out", str(out))
    assert code == 2 and "someone@elsewhere" in output and "--break-lease" in output
    code, output = run_cli("ingest", "--input", str(tmp_path / "in"), "--out", str(out), "--break-lease")
    assert code == 0, output
    stats, _ = check_output(out)
    assert stats["kept"] == 1


def test_lease_is_reentrant_and_survives_overwrite(tmp_path: Path) -> None:
    out = StageOutput(str(tmp_path / "o"))
    with hold(out.url) as outer:
        with hold(out.url) as inner:
            assert inner is outer
        (tmp_path / "o" / "part-00000.parquet").write_bytes(b"x")
        (tmp_path / "o" / "_committed").mkdir()  # what makes it a codeflow output --overwrite may clear
        out.clear()
        assert (tmp_path / "o" / LEASE_NAME).exists() and not (tmp_path / "o" / "part-00000.parquet").exists()
        with pytest.raises(LeaseError):
            _other_process_acquire(out.url)
    assert not (tmp_path / "o" / LEASE_NAME).exists()


def _other_process_acquire(url: str) -> None:
    """Acquire from another process (this one would re-enter); raise its error here."""
    proc = subprocess.run([sys.executable, "-c", f"from codeflow.lease import acquire; acquire({url!r})"],
                          capture_output=True, text=True)
    if proc.returncode:
        raise LeaseError(proc.stderr.strip().splitlines()[-1])


def test_missing_dedup_scratch_is_an_error_not_no_duplicates(tmp_path: Path) -> None:
    from codeflow.dedup.exact_run import mark_decisions_done, read_decisions

    decisions = StageOutput(str(tmp_path / "o")).work_path("decisions")
    with pytest.raises(LakeError, match="scratch"):
        read_decisions(decisions, 0)
    Path(decisions).mkdir(parents=True)  # a folder alone (a phase killed part way) is not a finished phase
    with pytest.raises(LakeError, match="scratch"):
        read_decisions(decisions, 0)
    mark_decisions_done(decisions, {"dropped": 0})
    assert read_decisions(decisions, 0).num_rows == 0  # finished grouping, no duplicates in this unit


# ---- git repositories -----------------------------------------------------------------------------------

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command line")


def _git_repo(path: Path, files: dict[bytes, bytes]) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(path.parent)}
    subprocess.run(["git", "init", "-q", str(path)], check=True, env=env)
    for name, data in files.items():
        with open(os.path.join(os.fsencode(path), name), "wb") as f:
            f.write(data)
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "commit", "-qm", "x"], check=True, env=env)


@needs_git
def test_non_utf8_file_name_is_one_reject_and_the_list_goes_on(tmp_path: Path) -> None:
    _git_repo(tmp_path / "r1", {b"b\xff.py": b"a = 1\n", b"ok.py": b"x = 1\n"})
    _git_repo(tmp_path / "r2", {b"main.py": b"print(1)\n"})
    # A BOM, the same repository twice (once through another spelling of its path): mined once.
    (tmp_path / "list.txt").write_bytes(b"\xef\xbb\xbfr1\nr2\n./r1\n")
    for args in (["code", "--repos"], ["fim", "--fim-rate", "1", "--repos"]):
        out = tmp_path / args[0]
        code, output = run_cli(*args, str(tmp_path / "list.txt"), "--out", str(out))
        assert code == 0, output
        code_out = out if args[0] == "code" else out / "_code"  # fim keeps the code stage's output
        stats, got = check_output(code_out)
        assert stats["rejected_by_reason"] == {"non_utf8_path": 1} and stats["kept"] == 2
        detail = got.read_rejects().column("detail").to_pylist()[0]
        assert "b\\xff.py" in detail
        assert sorted(got.read_kept(["path"]).column("path").to_pylist()) == ["main.py", "ok.py"]
    stats, _ = check_output(tmp_path / "fim")
    assert stats["kept"] == 2


@needs_git
def test_repo_level_fim_refuses_split_code_shards(tmp_path: Path) -> None:
    _git_repo(tmp_path / "r", {f"m{i}.py".encode(): f"x{i} = {i}\n".encode() for i in range(6)})
    (tmp_path / "list.txt").write_text("r\n")
    code, output = run_cli("code", "--repos", str(tmp_path / "list.txt"), "--split", "3", "--out",
                           str(tmp_path / "c"))
    assert code == 0, output
    code, output = run_cli("fim", "--level", "repo", "--input", str(tmp_path / "c"), "--out", str(tmp_path / "f"))
    assert code == 2 and "--split 3" in output


def test_window_without_starts_is_a_reject_not_an_internal_error(tmp_path: Path) -> None:
    import pygit2

    from codeflow.commits.config import TripletConfig
    from codeflow.commits.stage import TripletStage

    repo = pygit2.init_repository(str(tmp_path / "r"), initial_head="main")
    sig, parents = pygit2.Signature("t", "t@e", 1_700_000_000, 0), []
    for i in range(12):
        tb = repo.TreeBuilder()
        tb.insert("a.py", repo.create_blob(f"x = {i}\n".encode()), pygit2.enums.FileMode.BLOB)
        parents = [repo.create_commit("refs/heads/main", sig, sig, f"c{i}", tb.write(), parents)]
    result = TripletStage(TripletConfig(window=(1.0, 1.0), min_history=2)).mine(str(tmp_path / "r"), "r")
    assert result.rejects.column("reason").to_pylist() == ["no_start_in_window"]
    assert result.stats["rows_in"] == 1


def test_rejects_of_a_kept_shard_read_back(tmp_path: Path) -> None:
    """A decode_error reject's source points at the file and row, so a user can find it."""
    import pyarrow as pa

    (tmp_path / "in").mkdir()
    texts = pa.array([b"ok", b"\xc3\x28"], pa.binary()).view(pa.string())
    pq.write_table(pa.table({"id": ["a", "b"], "text": texts}), tmp_path / "in" / "x.parquet")
    code, output = run_cli("ingest", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "o"))
    assert code == 0, output
    _, got = check_output(tmp_path / "o")
    rej = got.read_rejects().to_pylist()
    assert [(r["id"], r["reason"], r["source"].endswith("x.parquet#1")) for r in rej] == [("b", "decode_error", True)]


def test_python_api_refuses_memory_with_several_workers(tmp_path: Path) -> None:
    from codeflow.ingest import IngestConfig, IngestStage
    from codeflow.runner import run_map_stage
    from codeflow.sources import TableSource

    (tmp_path / "x.jsonl").write_text('{"id": "a", "text": "hello"}\n')
    with pytest.raises(LeaseError, match="process-local"):
        run_map_stage(IngestStage(IngestConfig()), TableSource(), [str(tmp_path / "x.jsonl")], "memory://bi/api",
                      workers=2)


def test_python_api_dedup_respects_the_lease(tmp_path: Path) -> None:
    from codeflow.dedup.exact_run import run_exact_dedup

    write_corpus(tmp_path / "in", n_files=1, per_file=5)
    holder = subprocess.Popen(["sleep", "60"])
    try:
        _write_lease(tmp_path / "o", host=socket.gethostname(), pid=holder.pid, owner="bob@here")
        with pytest.raises(LeaseError, match="bob@here"):
            run_exact_dedup([str(tmp_path / "in" / "shard-00.parquet")], str(tmp_path / "o"))
        assert not (tmp_path / "o" / "_work").exists()  # refused before any work
    finally:
        holder.kill()
        holder.wait()
