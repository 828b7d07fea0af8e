"""Run the fim stage over code-file shards on either engine, then write the HTML report."""

from __future__ import annotations

from codeflow.fim.report import write_report
from codeflow.fim.stage import FimConfig, FimStage
from codeflow.runner import RunSummary, run_map_stage
from codeflow.sources import TableSource

CODE_SUBDIR = "_code"  # fim --repos: the code stage's output (kept shards and rejects) inside OUT


class FimInputSource(TableSource):
    stage_name = "fim"


def run_fim(units: list[str], out: str, config: FimConfig, engine: str = "local", workers: int = 1,
            overwrite: bool = False, report: bool = True) -> RunSummary:
    """One unit per input shard; at repo level a shard must hold whole repositories (the code stage writes
    one shard per repository)."""
    summary = run_map_stage(FimStage(config), FimInputSource(), units, out, engine=engine, workers=workers,
                            overwrite=overwrite)
    summary.stage = f"fim:{config.level}"  # the summary table shows which level each row is
    if report:
        summary.stats["report"] = write_report(out, summary.stats)
    return summary


def code_shards_from_repos(repo_list: str, out: str, engine: str = "local", workers: int = 1,
                           cache_dir: str | None = None) -> tuple[RunSummary, list[str]]:
    """Read and validate the repositories with the code stage (its reader and rules, not a second copy) into
    ``OUT/_code``: one shard per repository, which is what repo level needs. Returns the code stage's
    summary and its kept shards as fim units. ``OUT/_code`` is a complete code-stage output and stays after
    the fim run: its ``rejects/`` say which files never reached fim and why (bad UTF-8, too large, ...)."""
    from codeflow.code.run import run_code_repos
    from codeflow.lake import StageOutput

    StageOutput(out).claim("fim")  # OUT is ours before OUT/_code makes it non-empty (so --overwrite may clear it)
    code_out = StageOutput(out).path(CODE_SUBDIR)
    summary = run_code_repos(repo_list, code_out, engine=engine, workers=workers, cache_dir=cache_dir)
    done = StageOutput(code_out)
    return summary, done.kept_urls()
