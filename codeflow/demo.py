"""The demo: every landed stage on the bundled sample data, into ``./lake`` (or ``--lake``).

Each stage adds one function to ``DEMO_STEPS``; it takes the lake root URL and returns the run summaries it
produced. Steps run in order, so later stages may read what earlier ones wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from codeflow.runner import RunSummary


def sample_path(*parts: str) -> str:
    """Path of bundled sample data (installed with the package)."""
    return str(Path(str(resources.files("codeflow") / "data" / "sample")).joinpath(*parts))


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
    from codeflow.code.sample import bundled_sample_repo

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

    from codeflow.commits.demo_repo import demo_repo_entries
    from codeflow.commits.run import run_build_triplets

    local = "://" not in lake or lake.startswith("file://")
    work = os.path.join(lake.removeprefix("file://"), "triplets", "_repos") if local else tempfile.mkdtemp()
    entries = demo_repo_entries(work)
    # overwrite: this checkout's history moves between runs, so resuming would keep stale shards.
    return [run_build_triplets(entries, f"{lake}/triplets/demo", engine=engine, workers=2, overwrite=True)]


def demo_fim(lake: str, engine: str) -> list[RunSummary]:
    """File- and repo-level FIM samples from the code step's shards (one shard per repository)."""
    from codeflow.fim.demo import demo_fim as run

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
    ("quality classifiers: proxy + fastText on bundled real labels, scoring the docs and code", demo_classifiers),
]
