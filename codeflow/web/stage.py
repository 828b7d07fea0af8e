"""``clean-cc`` as a plan: one unit = one WARC file, two outputs per unit.

One commit phase returns a result per output; the runner commits the ``code_blocks`` shard first and the
``documents`` shard last (the first declared output's marker makes the unit count as done), so a crash between
the two leaves the unit to be redone deterministically.

Layout::

    {out}/documents/part-*.parquet          DOCUMENT_SCHEMA; rejects/ holds every page that did not make it
    {out}/code_blocks/part-*.parquet        CODE_BLOCK_SCHEMA; rejects/ holds dropped code-block candidates
    {out}/report.html, {out}/_funnel.json   the funnel, reasons, languages
"""

from __future__ import annotations

import json

from codeflow.engines import Engine
from codeflow.lake import StageOutput, atomic_write_bytes, atomic_write_json
from codeflow.plan import CommitPhase, Output, Plan, UnitContext
from codeflow.records import CODE_BLOCK_SCHEMA, DOCUMENT_SCHEMA
from codeflow.runner import RunSummary, run_plan
from codeflow.stage import PhasedStage, StageResult
from codeflow.web.config import CleanCCConfig
from codeflow.web.pipeline import STAGE, process_warc
from codeflow.web.warc import ARCHIVE_SUFFIXES

WARC_SUFFIXES = ARCHIVE_SUFFIXES  # what clean-cc reads (WARC, WET, ARC); defined with the reader


class CleanCC(PhasedStage):
    """WARC -> documents and code blocks (``codeflow.web.pipeline.process_warc``)."""

    name = STAGE

    def clean(self, ctx: UnitContext) -> dict[str, StageResult]:
        result = process_warc(ctx.unit, self.config)
        docs, doc_rejects, blocks, block_rejects = result.tables()
        code_stats = {k: v for k, v in result.stats.items() if k.startswith("code_")}
        code_stats["rows_in"] = result.stats["code_blocks_in"]
        doc_stats = dict(result.stats)
        doc_stats["rows_in"] = result.stats["records_in"]
        return {"documents": StageResult(docs, doc_rejects, doc_stats),
                "code_blocks": StageResult(blocks, block_rejects, code_stats)}

    def plan(self) -> Plan:
        return Plan(self.name, self.config, (CommitPhase(self.clean),),
                    (Output("documents", DOCUMENT_SCHEMA), Output("code_blocks", CODE_BLOCK_SCHEMA)))


def run_clean_cc(units: list[str], out_url: str, cfg: CleanCCConfig | None = None, engine: str | Engine = "local",
                 workers: int = 1, overwrite: bool = False) -> list[RunSummary]:
    """Clean ``units`` (WARC files) into ``out_url``; resumes from committed units; writes the report."""
    docs, code = run_plan(CleanCC(cfg or CleanCCConfig()).plan(), units, out_url, engine, workers, overwrite)
    write_report(out_url, docs, code)
    return [docs, code]


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
