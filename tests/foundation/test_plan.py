"""The plan contract: side inputs join the run identity, phased plans with a Python global phase, and stage
code that knows no engine."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

from codeflow.lake import LakeError, StageOutput
from codeflow.plan import CommitPhase, GlobalContext, GlobalPhase, MapPhase, Output, Plan, SideInput, UnitContext
from codeflow.records import DOCUMENT_SCHEMA, validate_text
from codeflow.runner import run_map_stage, run_plan
from codeflow.sources import TableSource, expand_inputs
from codeflow.stage import PhasedStage, Stage, StageResult

from .helpers import write_jsonl


@dataclass(frozen=True)
class BlocklistConfig:
    blocklist: str  # path of the side input; its *content* is what the run identity hashes


class Blocklist(Stage):
    """Rejects documents containing a word of the side-input list (a miniature decontamination stage)."""

    name = "blocklist"
    schema = DOCUMENT_SCHEMA

    def side_inputs(self) -> tuple[SideInput, ...]:
        return (SideInput("blocklist", self.config.blocklist),)

    def process(self, batch: pa.Table, unit: str) -> StageResult:
        words = set(Path(self.config.blocklist).read_text().split())
        valid = validate_text(batch, unit, self.name)
        texts, ids = valid.table.column("text").to_pylist(), valid.table.column("id").to_pylist()
        hit = [bool(words & set(t.split())) for t in texts]
        kept = pa.table({"id": [i for i, h in zip(ids, hit, strict=True) if not h],
                         "text": [t for t, h in zip(texts, hit, strict=True) if not h]})
        kept = kept.cast(pa.schema([DOCUMENT_SCHEMA.field("id"), DOCUMENT_SCHEMA.field("text")]))
        for f in DOCUMENT_SCHEMA:
            if f.name not in kept.column_names:
                kept = kept.append_column(f, pa.nulls(kept.num_rows, f.type))
        rejects = self.reject([i for i, h in zip(ids, hit, strict=True) if h], "blocklisted", "word on the list")
        return StageResult(kept.select(DOCUMENT_SCHEMA.names),
                           pa.concat_tables([valid.rejects, rejects]), {"rows_in": valid.rows_in})


def test_side_input_content_is_part_of_the_run_identity(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": "apple pie"}, {"text": "pear tart"}, {"text": None}])
    units = expand_inputs([str(tmp_path / "in")])
    words = tmp_path / "words.txt"
    words.write_text("apple\n")
    stage = Blocklist(BlocklistConfig(str(words)))
    first = run_map_stage(stage, TableSource(), units, str(tmp_path / "out"))
    assert (first.kept, first.reasons) == (1, {"blocklisted": 1, "null_text": 1})
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert manifest["side_inputs"]["blocklist"]["url"] == str(words)
    again = run_map_stage(stage, TableSource(), units, str(tmp_path / "out"))
    assert again.shards_resumed == 1
    words.write_text("pear\n")  # same path and config, other content: the committed shards are not this run's
    with pytest.raises(LakeError, match="another config"):
        run_map_stage(stage, TableSource(), units, str(tmp_path / "out"))
    redo = run_map_stage(stage, TableSource(), units, str(tmp_path / "out"), overwrite=True)
    assert StageOutput(str(tmp_path / "out")).read_kept().column("text").to_pylist() == ["apple pie"]
    assert redo.shards_new == 1


class LengthRank(PhasedStage):
    """Map (lengths) -> global (Python: the overall longest) -> commit to two outputs."""

    name = "length_rank"

    def lengths(self, ctx: UnitContext) -> dict[str, pa.Table]:
        valid = validate_text(next(iter(TableSource().read(ctx.unit))), ctx.unit, self.name)
        return {"lengths": pa.table({"id": valid.table.column("id"),
                                     "n": pa.array([len(t) for t in valid.table.column("text").to_pylist()])})}

    def longest(self, ctx: GlobalContext) -> dict[str, int]:
        best = 0
        for i in range(ctx.n_units):
            best = max([best, *UnitContext(ctx.info, i).scratch_table("lengths").column("n").to_pylist()])
        fs_path = ctx.scratch("longest.json")
        Path(fs_path).write_text(json.dumps(best))
        return {"longest": best}

    def commit(self, ctx: UnitContext) -> dict[str, StageResult]:
        best = json.loads(Path(ctx.scratch("longest.json")).read_text())
        t = ctx.scratch_table("lengths")
        top = t.filter(pa.compute.equal(t.column("n"), best))
        rest = t.filter(pa.compute.not_equal(t.column("n"), best))
        return {"top": StageResult(top, self.reject([], "none", None), {"rows_in": top.num_rows}),
                "rest": StageResult(rest, self.reject([], "none", None), {"rows_in": rest.num_rows})}

    def plan(self) -> Plan:
        schema = pa.schema([("id", pa.string()), ("n", pa.int64())])
        return Plan(self.name, self.config, (MapPhase("lengths", self.lengths), GlobalPhase("longest", self.longest),
                                             CommitPhase(self.commit)),
                    (Output("top", schema), Output("rest", schema)))


def test_a_phased_plan_with_a_python_global_phase_and_two_outputs(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": "aa"}, {"text": "aaaa"}])
    write_jsonl(tmp_path / "in" / "b.jsonl", [{"text": "aaaa"}, {"text": "a"}])
    units = expand_inputs([str(tmp_path / "in")])
    top, rest = run_plan(LengthRank({}).plan(), units, str(tmp_path / "out"), workers=2)
    assert (top.stage, top.kept, rest.kept) == ("length_rank:top", 2, 2)
    assert top.stats["longest_longest"] == 4
    assert (tmp_path / "out" / "top" / "_SUCCESS").exists() and not (tmp_path / "out" / "_work").exists()
    again = run_plan(LengthRank({}).plan(), units, str(tmp_path / "out"))
    assert again[0].shards_resumed == 2 and again[0].stats["longest_longest"] == 4


def test_stage_code_knows_no_engine() -> None:
    """Only codeflow/engines (and the adapters in pipelines/) may import Spark or compare engine names."""
    root = Path(__file__).resolve().parents[2] / "codeflow"
    offenders = []
    for path in root.rglob("*.py"):
        if "engines" in path.relative_to(root).parts:
            continue
        text = path.read_text()
        if re.search(r"^\s*(from|import) (pyspark|codeflow\.pipelines\.spark)|engine\s*==\s*[\"']", text, re.M):
            offenders.append(str(path.relative_to(root)))
    assert offenders == []
