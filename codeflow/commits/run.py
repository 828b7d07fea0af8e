"""``build-triplets`` as a function: repo list -> units -> the triplet stage on the chosen engine."""

from __future__ import annotations

from codeflow.commits.config import TripletConfig
from codeflow.commits.report import write_report
from codeflow.commits.stage import RepoUnitSource, TripletStage
from codeflow.repos import RepoEntry, pin_entries, read_repo_list
from codeflow.runner import RunSummary, run_map_stage


def run_build_triplets(repos: str | list[RepoEntry], out: str, config: TripletConfig | None = None,
                       engine: str = "local", workers: int = 1, overwrite: bool = False) -> RunSummary:
    """Mine triplets from every repository of ``repos`` (a list file or entries) into ``out``.

    Units are the list's entries in file order, so shard ``i`` is always line ``i``'s repository. Writes
    ``_report.html`` (charts of rejects, filters, scores) beside the shards.
    """
    entries = read_repo_list(repos) if isinstance(repos, str) else list(repos)
    units = [e.unit for e in pin_entries(entries)]  # every job mines the commit resolved now
    summary = run_map_stage(TripletStage(config or TripletConfig()), RepoUnitSource(), units, out, engine=engine,
                            workers=workers, overwrite=overwrite)
    write_report(summary)
    return summary
