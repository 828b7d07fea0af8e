"""Run the code stage over a repo list or lake inputs on either engine, then write ``report.html``.

The CLI and the demo call these; Python users can too (they return the ``RunSummary``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from codeflow.code.quality import CodeConfig
from codeflow.code.report import write_report
from codeflow.code.stage import CodeStage, LakeCodeSource, RepoSource, split_units
from codeflow.repos import pin_entries, read_repo_list
from codeflow.runner import RunSummary, run_map_stage
from codeflow.sources import expand_inputs


def run_code_repos(repo_list: str, out: str, config: CodeConfig | None = None, engine: str = "local",
                   workers: int = 1, overwrite: bool = False, cache_dir: str | None = None,
                   split: int = 1) -> RunSummary:
    """One unit (and one shard) per repository line of ``repo_list`` in file order, or ``split`` per repository."""
    cfg = replace(config or CodeConfig(), split=split)
    units = split_units(pin_entries(read_repo_list(repo_list)), split)  # one commit per repository per run
    source = RepoSource(max_bytes=cfg.max_bytes, files_per_batch=cfg.files_per_batch, cache_dir=cache_dir)
    summary = run_map_stage(CodeStage(cfg), source, units, out, engine=engine, workers=workers, overwrite=overwrite)
    write_report(summary)
    return summary


def run_code_inputs(inputs: Sequence[str], out: str, config: CodeConfig | None = None, engine: str = "local",
                    workers: int = 1, overwrite: bool = False, text_column: str | None = None) -> RunSummary:
    """One unit per input Parquet/JSONL file of code blocks or files already in the lake."""
    units = expand_inputs(list(inputs))
    summary = run_map_stage(CodeStage(config or CodeConfig()), LakeCodeSource(text_column), units, out,
                            engine=engine, workers=workers, overwrite=overwrite)
    write_report(summary)
    return summary
