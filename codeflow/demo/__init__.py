"""The demo: every landed stage on the bundled sample data, into ``./lake`` (or ``--lake``).

Each stage adds one function to ``DEMO_STEPS``; it takes the lake root URL and returns the run summaries it
produced. Steps run in order, so later stages may read what earlier ones wrote. The demo's scaffolding lives
beside it: ``data`` (bundled samples, the sample repository), ``repos`` (the generated triplets repository),
``warc`` (how the sample WARC was written); stage packages hold only stage code.
"""

from __future__ import annotations

from collections.abc import Callable

from codeflow.demo.data import sample_path
from codeflow.model.demo import demo_train  # light: torch loads when the step runs
from codeflow.runner import RunSummary

__all__ = ["DEMO_STEPS", "sample_path"]


def demo_exact_dedup(lake: str, engine: str) -> list[RunSummary]:
    from codeflow.dedup.exact_run import run_exact_dedup
    from codeflow.sources import expand_inputs

    units = expand_inputs([sample_path("docs")])
    return [run_exact_dedup(units, f"{lake}/dedup_exact/sample_docs", engine=engine, workers=2)]


def demo_minhash_dedup(lake: str, engine: str) -> list[RunSummary]:
    """Near-duplicate (MinHash LSH) dedup of what exact dedup kept: the hierarchical dedup of the reports."""
    from codeflow.dedup.minhash_run import run_near_dedup
    from codeflow.sources import expand_inputs

    units = expand_inputs([f"{lake}/dedup_exact/sample_docs"])
    return [run_near_dedup(units, f"{lake}/dedup_minhash/sample_docs", engine=engine, workers=2)]


def demo_clean_cc(lake: str, engine: str) -> list[RunSummary]:
    from codeflow.web.stage import run_clean_cc

    return run_clean_cc([sample_path("warc", "python-docs.warc.gz")], f"{lake}/clean_cc/sample", engine=engine)


def demo_code(lake: str, engine: str) -> list[RunSummary]:
    """Validate the bundled multi-language sample repo and, when run inside a git checkout, this repo's HEAD."""
    import os
    import tempfile

    import pygit2

    from codeflow.code.run import run_code_repos
    from codeflow.demo.data import bundled_sample_repo

    lines = [f"{bundled_sample_repo()}\tcodeflow/sample"]
    own = pygit2.discover_repository(os.getcwd())
    if own:
        lines.append(f"{own}\tcodeflow/self")
    with tempfile.TemporaryDirectory() as tmp:
        repo_list = os.path.join(tmp, "repos.txt")
        with open(repo_list, "w") as f:
            f.write("\n".join(lines) + "\n")
        # overwrite: this checkout's HEAD moves between runs, and a resumed shard would be the old HEAD's files
        return [run_code_repos(repo_list, f"{lake}/code/sample_repos", engine=engine, workers=2,
                               overwrite=True)]


def demo_triplets(lake: str, engine: str) -> list[RunSummary]:
    """Commit triplets from this checkout's own history (when there is one) and a generated repository."""
    import os
    import tempfile

    from codeflow.commits.run import run_build_triplets
    from codeflow.demo.repos import demo_repo_entries

    local = "://" not in lake or lake.startswith("file://")
    work = os.path.join(lake.removeprefix("file://"), "triplets", "_repos") if local else tempfile.mkdtemp()
    entries = demo_repo_entries(work)
    # overwrite: this checkout's history moves between runs, so resuming would keep stale shards.
    return [run_build_triplets(entries, f"{lake}/triplets/demo", engine=engine, workers=2, overwrite=True)]


def demo_fim(lake: str, engine: str) -> list[RunSummary]:
    """File- and repo-level FIM samples from ``{lake}/code/sample_repos`` (written by the code step, run first
    if missing): one shard per repository, so repo level sees each repository whole."""
    from codeflow.fim.run import run_fim
    from codeflow.fim.stage import FimConfig
    from codeflow.lake import StageOutput

    code = StageOutput(f"{lake}/code/sample_repos")
    summaries: list[RunSummary] = []
    if not code.is_complete():
        summaries.extend(demo_code(lake, engine))
    units = code.kept_urls()
    for level in ("file", "repo"):
        # overwrite: the code shards include this checkout's HEAD, which moves between runs
        summaries.append(run_fim(units, f"{lake}/fim/sample_{level}", FimConfig(level=level), engine=engine,
                                 workers=2, overwrite=True))
    return summaries


def demo_decontaminate(lake: str, engine: str) -> list[RunSummary]:
    from codeflow.decontam.demo import demo_decontaminate as run

    return run(lake, engine)


def demo_classifiers(lake: str, engine: str) -> list[RunSummary]:
    from codeflow.classifiers.demo import demo_classifiers as run

    return run(lake, engine)


# (name, step). Add yours at the end.
DEMO_STEPS: list[tuple[str, Callable[[str, str], list[RunSummary]]]] = [
    ("exact dedup of sample documents", demo_exact_dedup),
    ("MinHash near-dup dedup of the exact-dedup output", demo_minhash_dedup),
    ("Common Crawl cleaning of the sample WARC", demo_clean_cc),
    ("code validation of the sample repo and this checkout", demo_code),
    ("commit triplets from this checkout's history and a generated repo", demo_triplets),
    ("FIM samples, file and repo level, from the validated sample repos", demo_fim),
    ("benchmark decontamination of the validated code (with planted leaks)", demo_decontaminate),
    ("quality classifiers: proxy + fastText on bundled real labels, scoring the docs and code", demo_classifiers),
    ("train the tiny PLT a few steps on the lake's text shards", demo_train),
]
