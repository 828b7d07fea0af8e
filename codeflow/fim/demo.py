"""Demo step: file- and repo-level FIM over the code stage's demo output (the bundled sample repo + this checkout)."""

from __future__ import annotations

from codeflow.runner import RunSummary


def demo_fim(lake: str, engine: str) -> list[RunSummary]:
    """Reads ``{lake}/code/sample_repos`` (written by the code demo step, run first if missing): one shard per
    repository, so repo level sees each repository whole."""
    from codeflow.fim.run import run_fim
    from codeflow.fim.stage import FimConfig
    from codeflow.lake import StageOutput

    code = StageOutput(f"{lake}/code/sample_repos")
    summaries: list[RunSummary] = []
    if not code.is_complete():
        from codeflow.demo import demo_code

        summaries.extend(demo_code(lake, engine))
    units = code.kept_urls()
    for level in ("file", "repo"):
        # overwrite: the code shards include this checkout's HEAD, which moves between runs
        summaries.append(run_fim(units, f"{lake}/fim/sample_{level}", FimConfig(level=level), engine=engine,
                                 workers=2, overwrite=True))
    return summaries
