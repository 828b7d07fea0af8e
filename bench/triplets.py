"""Benchmark: commits scanned per second per core by the triplet miner vs ``git log --no-merges -p`` and PyDriller.

All three run single-threaded on the same repository in the same run. "Per core" is commits per CPU-second
(user + system of this process and its waited-for children), which stays meaningful on a shared, loaded machine
where wall time is noise; wall seconds are printed too. PyDriller's long-lived ``git cat-file`` helpers may not
be fully counted (that flatters PyDriller).

- ``git log --no-merges -p HEAD`` to /dev/null: the floor on the work named by the issue (C, patch text only);
  and ``git log --first-parent --diff-merges=first-parent -p HEAD``: git doing exactly the diffs our scan does
  (first-parent commits, merges diffed against their first parent);
- PyDriller ``Repository(path, only_no_merge=True)`` reading every commit's ``modified_files`` with ``diff``
  (what a PyDriller-based miner must do per commit), on the first ``--pydriller-commits`` commits (it is slow;
  the rate is what counts);
- ours, (a) the scan alone: every first-parent commit of HEAD diffed against its first parent in process with
  pygit2, classified, and run through the endpoint filters (whitespace/comment-only read blobs for candidates),
  and (b) the whole stage: ``TripletStage.mine`` with ``--per-repo`` starts over the full lifecycle
  (scan + search + assembly + apply invariant + context), reported as scanned commits/s and triplets/s.

Targets (issue 6): >= 10x PyDriller and >= 0.5x git log -p.

    python bench/triplets.py --repo /path/to/a/repo/with/1000+/commits     # e.g. a mirror of pallets/flask

``--report REPO...`` measures training value instead of speed (issue 20), default options: the share of triplets
within ``--max-tokens`` (counted with ``--tokenizer`` when given), median / max tokens against the anchor of the
same triplets in the previous whole-file layout, tokens before ``<|commit_patch|>``, the start -> triplet yield,
and endpoints shared by two triplets; every stored text is re-checked as a projection of the row's full files.

    python bench/triplets.py --report /tmp/attrs.git /tmp/javapoet.git --per-repo 32 --tokenizer lake/tokenizer
    python bench/triplets.py --report REPO... --train-tokenizer /tmp/tok    # a 32k BPE on the repos' own code

``--check-proof REPO...`` checks exactness instead: every file whose comment-only verdict the lexer proof
settles (``codeflow.commits.lexproof``) is decided by the tree-sitter check too, and they must agree.

    python bench/triplets.py --check-proof /tmp/attrs /tmp/gin /tmp/ripgrep

Needs the ``bench`` extra (pydriller).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time


def cpu() -> float:
    """CPU seconds of this process plus its waited-for children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Clock:
    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), cpu()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, cpu() - self.cpu


def git_log(repo: str, first_parent: bool = False) -> tuple[int, Clock]:
    sel = ["--first-parent"] if first_parent else ["--no-merges"]
    n = int(subprocess.run(["git", "--git-dir", repo, "rev-list", *sel, "--count", "HEAD"],
                           capture_output=True, text=True, check=True).stdout)
    extra = ["--diff-merges=first-parent"] if first_parent else []
    with Clock() as c:
        subprocess.run(["git", "--git-dir", repo, "log", *sel, *extra, "-p", "HEAD"], stdout=subprocess.DEVNULL,
                       check=True)
    return n, c


def _git_dir(repo: str) -> str:
    import pygit2

    return pygit2.Repository(repo).path


def pydriller(repo: str, limit: int) -> tuple[int, Clock]:
    from pydriller import Repository

    n = 0
    with Clock() as c:
        for commit in Repository(repo, only_no_merge=True).traverse_commits():
            for mf in commit.modified_files:
                _ = mf.diff
            n += 1
            if n >= limit:
                break
    return n, c


def ours_scan(repo_path: str) -> tuple[int, float]:
    import pygit2

    from codeflow.commits.config import TripletConfig
    from codeflow.commits.history import first_parent_history
    from codeflow.commits.scan import Scanner

    with Clock() as c:
        repo = pygit2.Repository(repo_path)
        ids = first_parent_history(repo)
        scanner = Scanner(repo, ids, TripletConfig())
        for rank in range(len(ids)):
            scanner.endpoint_filter(scanner.get(rank))
    merges = sum(1 for i in scanner.cache.values() if i.is_merge)
    return scanner.scanned, merges, c


def ours_stage(repo_path: str, per_repo: int) -> tuple[int, int, Clock]:
    import pandas  # noqa: F401 - pyarrow imports it lazily on first table build: ~1 s once per process, not per commit

    from codeflow.commits.config import TripletConfig
    from codeflow.commits.stage import TripletStage

    with Clock() as c:
        res = TripletStage(TripletConfig(per_repo=per_repo, window=(0.0, 1.0))).mine(repo_path, "bench")
    return int(res.stats["commits_scanned"]), res.kept.num_rows, c


def _whole_file_tokens(row: dict, counter) -> int:
    """Tokens of the same triplet in the previous layout (whole files before and after, context whole): the
    anchor the report compares the budgeted text with."""
    from codeflow.commits.assemble import render_text

    whole = [(f["path"], f["content"] + "\n") for f in row["files_old"]], \
        [(f["path"], f["content"] + "\n") for f in row["files_new"]]
    ctx = [(f["path"], f["content"] + "\n") for f in row["context_files"]]
    return counter.count(render_text(row["repo"], ctx, whole[0], row["messages"], row["patch"], whole[1]))


CODE_EXTS = (".py", ".go", ".java", ".rs", ".ts", ".js", ".md", ".toml", ".yml", ".rst")


def train_code_tokenizer(repos: list[str], out: str, vocab: int = 32768) -> str:
    """A byte-level BPE trained with the trainer's recipe (``codeflow.model.tokenizer``) on the HEAD files of
    ``repos`` (code and docs under 200 kB): a stand-in for the trainer's tokenizer when none is at hand."""
    import pygit2

    from codeflow.model.tokenizer import save_tokenizer, train_tokenizer

    def walk(tree, prefix=""):
        for e in tree:
            if e.type_str == "tree":
                yield from walk(e, prefix + e.name + "/")
            elif e.type_str == "blob" and e.size < 200_000 and e.name.endswith(CODE_EXTS):
                yield e

    texts = []
    for path in repos:
        for blob in walk(pygit2.Repository(path).head.peel().tree):
            try:
                texts.append(blob.data.decode())
            except UnicodeDecodeError:
                continue
    tok = train_tokenizer(texts, vocab)
    save_tokenizer(tok, out, trained_on=repos, sample_docs=len(texts), sample_bytes=sum(map(len, texts)))
    return out


def report(repos: list[str], per_repo: int, max_tokens: int, tokenizer: str | None, seed: int) -> int:
    """Training-value figures per repository, default options: share of triplets within the token budget,
    median and max tokens (and the whole-file layout's median for the same triplets, the anchor), the
    start -> triplet yield, shared endpoints, and the patch position (tokens before ``<|commit_patch|>``)."""
    import statistics

    from codeflow.commits.budget import counter_for
    from codeflow.commits.config import TripletConfig
    from codeflow.commits.stage import TripletStage
    from codeflow.commits.views import is_projection

    cfg = TripletConfig(per_repo=per_repo, max_tokens=max_tokens, tokenizer=tokenizer, seed=seed)
    counter = counter_for(tokenizer, cfg.chars_per_token)
    unit = "tokenizer" if counter.exact else f"chars/{cfg.chars_per_token:g}"
    print(f"max_tokens={max_tokens} ({unit}), per_repo={per_repo}, seed={seed}, other options default\n")
    print("| repo | merges/first-parent | merge endpoints on | starts | triplets | yield | within budget | "
          "median tokens | max tokens | median whole-file tokens (anchor) | ratio | median patch start | "
          "shared endpoints | rejects |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for path in repos:
        name = path.rstrip("/").split("/")[-1].removesuffix(".git")
        with Clock() as c:
            res = TripletStage(cfg).mine(path, name)
        rows = res.kept.to_pylist()
        tokens = [counter.count(r["text"]) for r in rows]
        assert tokens == [r["stats"]["text_tokens"] for r in rows], "stored text_tokens disagree with a recount"
        for r in rows:  # the stored text is a faithful projection of the full files the row carries
            views = r["text"].split("<|commit_before|>\n", 1)[1]
            before, rest = views.split("<|commit_msg|>", 1)
            after = rest.split("<|commit_after|>\n", 1)[1].removesuffix("<|endoftext|>")
            for block, files in ((before, r["files_old"]), (after, r["files_new"])):
                shown = dict(b.split("\n", 1) for b in block.split("<|file_sep|>")[1:])
                full = {f["path"]: f["content"] for f in files}
                assert shown.keys() == full.keys() and all(is_projection(shown[p], full[p]) for p in full)
        anchor = [_whole_file_tokens(r, counter) for r in rows]
        patch_at = [counter.count(r["text"].split("<|commit_patch|>", 1)[0]) for r in rows]
        ends = [r["end_commit"] for r in rows]
        within = sum(t <= max_tokens for t in tokens)
        med = statistics.median(tokens) if tokens else 0
        med_anchor = statistics.median(anchor) if anchor else 0
        reasons = ", ".join(f"{k}={v}" for k, v in _counts(res))
        merges = f"{res.stats.get('history_merges', 0)}/{res.stats.get('history_commits', 0)}"
        merge_mode = f"{int(res.stats.get('walks_with_merge_endpoints', 0))} walks"
        print(f"| {name} | {merges} | {merge_mode} | {res.stats['rows_in']} | {len(rows)} | "
              f"{len(rows) / max(res.stats['rows_in'], 1):.0%} | "
              f"{within}/{len(rows)} | {med:,.0f} | {max(tokens, default=0):,} | {med_anchor:,.0f} | "
              f"{med / med_anchor if med_anchor else 0:.2f}x | "
              f"{statistics.median(patch_at) if patch_at else 0:,.0f} | {len(ends) - len(set(ends))} | "
              f"{reasons or '-'} |", flush=True)
        print(f"<!-- {name}: {c.cpu:.1f} CPU s -->", file=sys.stderr)
    return 0


def check_proof(repos: list[str]) -> int:
    """Every first-parent commit of ``repos`` through the endpoint filters; each file the lexer proof answers
    (``codeflow.commits.lexproof``) is also decided by the tree-sitter check it spares, and the two must agree.
    Prints per language how many files the proof settled (True / False) and left to the parse; exit 1 on a
    disagreement."""
    from collections import Counter

    import pygit2

    from codeflow.commits.config import TripletConfig
    from codeflow.commits.history import first_parent_history
    from codeflow.commits.scan import Scanner, restore_libgit2_defaults

    class Checked(Scanner):
        def _proof(self, f, old, new, hunks):
            proof = super()._proof(f, old, new, hunks)
            if proof is not None:
                truth = self._stripped_pair(f, old, new)
                tally[(f.lang, str(proof))] += 1
                if proof != truth:
                    wrong.append(f"{path}: {f.path} {f.old_id[:12]}..{f.new_id[:12]} proof={proof} parse={truth}")
            elif f.lang:
                tally[(f.lang, "parse")] += 1
            return proof

    tally: Counter = Counter()
    wrong: list[str] = []
    for path in repos:
        repo = pygit2.Repository(path)
        ids = first_parent_history(repo)
        scanner = Checked(repo, ids, TripletConfig())
        for rank in range(len(ids)):
            scanner.endpoint_filter(scanner.get(rank))
        restore_libgit2_defaults()
    print("| language | proved comment-only | proved code change | left to the parse |")
    print("|---|---:|---:|---:|")
    for lang in sorted({k[0] for k in tally}):
        print(f"| {lang} | {tally[(lang, 'True')]} | {tally[(lang, 'False')]} | {tally[(lang, 'parse')]} |")
    proved = sum(v for k, v in tally.items() if k[1] != "parse")
    print(f"\n{proved} files proved, {len(wrong)} disagree with the parse")
    for line in wrong:
        print(line)
    return 1 if wrong else 0


def _counts(res) -> list[tuple[str, int]]:
    from collections import Counter

    return sorted(Counter(res.rejects.column("reason").to_pylist()).items())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", help="path of a git repository (working tree or bare) with 1000+ commits")
    ap.add_argument("--report", nargs="+", metavar="REPO",
                    help="training-value report instead of speed: budget share, median tokens, yield, shared "
                         "endpoints per repository (default options)")
    ap.add_argument("--check-proof", nargs="+", metavar="REPO",
                    help="exactness instead of speed: every file the lexer proof settles is re-decided by the "
                         "tree-sitter check; exit 1 on a disagreement")
    ap.add_argument("--max-tokens", type=int, default=16384)
    ap.add_argument("--tokenizer", default=None, help="tokenizer.json (or folder) of the trainer")
    ap.add_argument("--train-tokenizer", metavar="DIR", default=None,
                    help="first train a 32k BPE on the --report repositories' HEAD code into DIR and count with it")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pydriller-commits", type=int, default=1000,
                    help="commits PyDriller reads (its rate is what counts)")
    ap.add_argument("--per-repo", type=int, default=64, help="start commits for the whole-stage measurement")
    ap.add_argument("--rounds", type=int, default=2, help="best of N for git log and our scan")
    args = ap.parse_args()
    if args.check_proof:
        return check_proof(args.check_proof)
    if args.report and args.train_tokenizer:
        args.tokenizer = train_code_tokenizer(args.report, args.train_tokenizer)
    if args.report:
        return report(args.report, args.per_repo if args.per_repo != 64 else 32, args.max_tokens, args.tokenizer,
                      args.seed)
    if not args.repo:
        ap.error("--repo or --report is required")

    import tempfile

    import pygit2

    from codeflow.commits.history import first_parent_history

    # A plain bare clone (objects hard-linked) that every tool reads: some mirrors lack the config GitPython
    # needs to see a bare repository, and all three must read the very same objects.
    tmp = tempfile.mkdtemp(prefix="bench-triplets-")
    args.src = args.repo
    subprocess.run(["git", "clone", "-q", "--bare", _git_dir(args.repo), f"{tmp}/repo.git"], check=True)
    args.repo = f"{tmp}/repo.git"
    repo = pygit2.Repository(args.repo)
    n_fp = len(first_parent_history(repo))
    if n_fp < 1000:
        print("warning: fewer than 1000 first-parent commits; the issue asks for a 1000+ commit repository",
              file=sys.stderr)
    best = lambda runs: min(runs, key=lambda r: r[-1].cpu)  # noqa: E731
    git_n, git_c = best([git_log(args.repo) for _ in range(args.rounds)])
    gfp_n, gfp_c = best([git_log(args.repo, first_parent=True) for _ in range(args.rounds)])
    scan_n, scan_m, scan_c = best([ours_scan(args.repo) for _ in range(args.rounds)])
    pd_n, pd_c = pydriller(args.repo, args.pydriller_commits)
    st_n, st_k, st_c = ours_stage(args.repo, args.per_repo)
    git_r, pd_r, scan_r = git_n / git_c.cpu, pd_n / pd_c.cpu, scan_n / scan_c.cpu
    rows = [
        ("`git log --no-merges -p` (floor named by the issue)", git_n, git_c),
        ("`git log --first-parent --diff-merges=first-parent -p` (mainline, merges diffed too)", gfp_n, gfp_c),
        ("PyDriller `modified_files` + `diff`", pd_n, pd_c),
        ("codeflow scan + endpoint filters (pygit2, in process), all first-parent commits", scan_n, scan_c),
        (f"same run counted over its {scan_n - scan_m} non-merge commits only", scan_n - scan_m, scan_c),
        (f"codeflow whole stage: {args.per_repo} starts, {st_k} triplets", st_n, st_c),
    ]
    print(f"repo: {args.src} ({n_fp} first-parent commits), os.cpu_count()={os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| method | commits | CPU s | wall s | commits/s per core | vs PyDriller | vs git log -p |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, n, c in rows:
        r = n / c.cpu
        print(f"| {name} | {n} | {c.cpu:.2f} | {c.wall:.2f} | {r:,.0f} | {r / pd_r:.1f}x | {r / git_r:.2f}x |")
    ok = scan_r >= 10 * pd_r and scan_r >= 0.5 * git_r
    print(f"\nscan: {scan_r / pd_r:.1f}x PyDriller (target >= 10x), {scan_r / git_r:.2f}x git log --no-merges -p "
          f"(target >= 0.5x): {'PASS' if ok else 'MISS'}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
