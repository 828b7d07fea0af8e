"""Run decontamination: build the index (the side input), map the stage over the units, write the report.

The engine glue is this file only: the index is built on the driver and written under ``OUT/_work/side`` (removed
by the run-level commit), its content hash goes into the stage config, and ``run_map_stage`` does the rest on
either engine. The report is a global step over the committed shards and rejects.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from codeflow.decontam.benchmarks import Benchmark
from codeflow.decontam.index import DecontamIndex, MatchConfig, build_index, save_index
from codeflow.decontam.stage import DecontamConfig, DecontamStage, output_schema, resolve_text_column
from codeflow.errors import CodeflowError
from codeflow.lake import StageOutput, to_fs
from codeflow.plan import SideInput
from codeflow.runner import SIDE_DIR, RunSummary, run_map_stage
from codeflow.sources import TableSource, read_table_file


class DecontamInputError(CodeflowError):
    """The input cannot be decontaminated as given (no text column, units with different schemas)."""


class DecontamSource(TableSource):
    stage_name = "decontaminate"


def unit_schema(url: str) -> pa.Schema:
    fs, path = to_fs(url)
    if path.endswith(".parquet"):
        with fs.open(path, "rb") as f:
            return pq.read_schema(f)
    return read_table_file(url).schema


def input_schema(units: list[str]) -> pa.Schema:
    """The one schema every unit shares (field names and types); output shards get it (+ contamination)."""
    first = unit_schema(units[0])
    for u in units[1:]:
        s = unit_schema(u)
        if not s.equals(first, check_metadata=False):
            raise DecontamInputError(f"{u} has another schema than {units[0]}; decontaminate one record kind "
                                     f"per run ({', '.join(s.names)} vs {', '.join(first.names)})")
    return first


def run_decontaminate(units: list[str], out: str, benchmarks: list[Benchmark], match: MatchConfig | None = None,
                      mode: str = "remove", text_column: str | None = None, engine: str = "local", workers: int = 1,
                      overwrite: bool = False, report: bool = True,
                      index: DecontamIndex | None = None) -> RunSummary:
    """Decontaminate ``units`` into ``out``; re-running resumes (the same index hash is required)."""
    schema = input_schema(units)
    try:
        resolve_text_column(schema.names, text_column)
    except ValueError as e:
        raise DecontamInputError(f"{units[0]}: {e}") from None
    index = index or build_index(benchmarks, match or MatchConfig())
    so = StageOutput(out)
    if overwrite:
        so.clear()
    index_url = so.work_path(SIDE_DIR, "decontam_index", f"{index.content_hash}.pkl")
    if not so.fs.exists(index_url):
        save_index(index, index_url)
    cfg = DecontamConfig(mode=mode, text_column=text_column, index_hash=index.content_hash,
                         benchmarks=tuple(b["name"] for b in index.benchmarks))
    stage = DecontamStage(cfg, output_schema(schema, mode), index_url)
    summary = run_map_stage(stage, DecontamSource(), units, out, engine=engine, workers=workers,
                            side_inputs=[SideInput("decontam_index", index_url)])
    summary.stage = f"decontaminate:{mode}"
    if report:
        from codeflow.decontam.report import write_report

        summary.stats["report"] = write_report(out, index, mode, units, summary.stats, text_column)
    return summary
