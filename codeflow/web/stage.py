"""``clean-cc`` on the engines: one unit = one WARC file, two outputs per unit.

The foundation's ``run_unit`` commits one kept table per unit; this stage writes two (documents and code
blocks), so it has its own small job. Per unit it commits the ``code_blocks`` shard first and the
``documents`` shard last: the documents marker is what makes the unit count as done, so a crash between the
two leaves the unit to be redone (deterministically, overwriting the code-block shard with the same bytes).
Both engines run this same job (``runner.map_units``), so their shards are byte-identical.

Layout::

    {out}/documents/part-*.parquet          DOCUMENT_SCHEMA; rejects/ holds every page that did not make it
    {out}/code_blocks/part-*.parquet        CODE_BLOCK_SCHEMA; rejects/ holds dropped code-block candidates
    {out}/report.html, {out}/_funnel.json   the funnel, reasons, languages
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from codeflow.lake import StageOutput, atomic_write_bytes, atomic_write_json
from codeflow.records import CODE_BLOCK_SCHEMA, DOCUMENT_SCHEMA
from codeflow.runner import RunSummary, finish, map_units
from codeflow.stage import config_hash
from codeflow.ui import now
from codeflow.web.config import CleanCCConfig
from codeflow.web.pipeline import STAGE, process_warc
from codeflow.web.warc import ARCHIVE_SUFFIXES

WARC_SUFFIXES = ARCHIVE_SUFFIXES  # what clean-cc reads (WARC, WET, ARC); defined with the reader


def outputs(out_url: str) -> tuple[StageOutput, StageOutput]:
    root = out_url.rstrip("/")
    return StageOutput(f"{root}/documents"), StageOutput(f"{root}/code_blocks")


@dataclass(frozen=True)
class CleanCCJob:
    """Picklable: clean WARC ``units[index]`` and commit both shards."""

    cfg: CleanCCConfig
    out_url: str
    units: tuple[str, ...]

    def __call__(self, index: int) -> None:
        docs_out, code_out = outputs(self.out_url)
        if docs_out.is_committed(index):
            return
        unit = self.units[index]
        result = process_warc(unit, self.cfg)
        docs, doc_rejects, blocks, block_rejects = result.tables()
        h = config_hash(STAGE, self.cfg)
        code_stats = {k: v for k, v in result.stats.items() if k.startswith("code_")}
        code_stats["rows_in"] = result.stats["code_blocks_in"]
        code_out.commit_shard(index, blocks, block_rejects, code_stats, unit, h)
        doc_stats = dict(result.stats)
        doc_stats["rows_in"] = result.stats["records_in"]
        docs_out.commit_shard(index, docs, doc_rejects, doc_stats, unit, h)


def run_clean_cc(units: list[str], out_url: str, cfg: CleanCCConfig | None = None, engine: str = "local",
                 workers: int = 1, overwrite: bool = False) -> list[RunSummary]:
    """Clean ``units`` (WARC files) into ``out_url``; resumes from committed units; writes the report."""
    cfg = cfg or CleanCCConfig()
    t0 = now()
    docs_out, code_out = outputs(out_url)
    if overwrite:
        StageOutput(out_url).clear()
    h = config_hash(STAGE, cfg)
    docs_out.check_config(h, units)
    code_out.check_config(h, units)
    resumed = docs_out.count_committed()
    job = CleanCCJob(cfg, out_url, tuple(units))
    map_units(job, len(units), engine, workers, docs_out, "clean-cc")
    code_summary = finish(f"{STAGE}:code_blocks", code_out, len(units), CODE_BLOCK_SCHEMA, cfg, t0, resumed)
    doc_summary = finish(f"{STAGE}:documents", docs_out, len(units), DOCUMENT_SCHEMA, cfg, t0, resumed)
    write_report(out_url, doc_summary, code_summary)
    return [doc_summary, code_summary]


def write_report(out_url: str, docs: RunSummary, code: RunSummary) -> str:
    from codeflow.web.report import funnel_data, render_html

    data = funnel_data(docs, code)
    root = StageOutput(out_url)
    atomic_write_json(root.fs, root.path("_funnel.json"), data)
    atomic_write_bytes(root.fs, root.path("report.html"), render_html(data).encode("utf-8"))
    return root.path("report.html")


def funnel_json(out_url: str) -> dict:
    root = StageOutput(out_url)
    with root.fs.open(root.path("_funnel.json"), "rb") as f:
        return json.load(f)
