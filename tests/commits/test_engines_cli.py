"""Both engines write byte-identical triplet shards; the CLI clones file:// URLs and prints the summary."""

from __future__ import annotations

import os

from codeflow.commits.config import TripletConfig
from codeflow.commits.run import run_build_triplets
from codeflow.repos import RepoEntry
from tests.commits.gitbuild import linear_repo


def test_local_and_spark_shards_identical(tmp_path, spark):
    linear_repo(str(tmp_path / "a"), 40)
    linear_repo(str(tmp_path / "b"), 25, files=2)
    entries = [RepoEntry(str(tmp_path / "a"), "a"), RepoEntry(str(tmp_path / "missing"), "missing"),
               RepoEntry(str(tmp_path / "b"), "b")]
    cfg = TripletConfig(per_repo=3, seed=3)
    local = run_build_triplets(entries, str(tmp_path / "local"), cfg, engine="local", workers=2)
    sp = run_build_triplets(entries, str(tmp_path / "spark"), cfg, engine="spark")
    assert (local.kept, local.rejected, local.reasons) == (sp.kept, sp.rejected, sp.reasons) == (6, 1, {
        "repo_not_found": 1})
    for i in range(3):
        for name in (f"part-{i:05d}.parquet", f"rejects/part-{i:05d}.parquet"):
            assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "spark" / name).read_bytes()


def test_cli_clones_urls_and_resumes(tmp_path, cli):
    linear_repo(str(tmp_path / "src"), 30)
    listing = tmp_path / "list.txt"
    listing.write_text(f"# repos\nfile://{tmp_path / 'src'}\tsrc\n\n{tmp_path / 'nope'}\n")
    out = str(tmp_path / "out")
    args = ("build-triplets", "--repos", str(listing), "--out", out, "--per-repo", "2",
            "--clone-cache", str(tmp_path / "cache"), "--window", "0.5:0.9")
    code, output = cli(*args)
    assert code == 0, output
    assert "triplets" in output and "repo_not_found=1" in output
    assert os.path.exists(os.path.join(out, "_SUCCESS")) and os.listdir(tmp_path / "cache")
    report = (tmp_path / "out" / "_report.html").read_text()
    assert "Rejects by reason" in report and "repo_not_found" in report and "<svg" in report
    code, output = cli(*args)  # second run resumes from the committed shards
    assert code == 0 and "0/2" in output, output
    code, output = cli("build-triplets", "--repos", str(listing), "--out", out, "--window", "0.9:0.1")
    assert code == 2 and "window" in output
    code, output = cli("build-triplets", "--repos", str(listing), "--out", str(tmp_path / "o2"), "--tokenizer",
                       str(tmp_path / "no-tokenizer"))
    assert code == 2 and "no tokenizer at" in output and len(output.strip().splitlines()) == 1, output


def test_demo_step_mines_generated_repo(tmp_path):
    from codeflow.commits.patchapply import apply_patch
    from codeflow.demo import demo_triplets
    from codeflow.lake import StageOutput

    (summary,) = demo_triplets(str(tmp_path / "lake"), "local")
    assert summary.rows_in == summary.kept + summary.rejected and summary.kept >= 3
    rows = StageOutput(str(tmp_path / "lake" / "triplets" / "demo")).read_kept().to_pylist()
    generated = [r for r in rows if r["repo"] == "calc (generated)"]
    assert len(generated) >= 3
    for r in rows:
        old = {f["path"]: f["content"] for f in r["files_old"]}
        assert apply_patch(old, r["patch"]) == {f["path"]: f["content"] for f in r["files_new"]}
