"""Demo step: decontaminate the demo's validated code against every bundled benchmark, with a few planted leaks.

Reads ``{lake}/code/sample_repos`` (the code demo step's output; run first if missing) and adds one shard of
real sample-repo files into which real benchmark items were pasted (HumanEval verbatim, an MBPP solution with
renamed identifiers, a re-indented ClassEval-style copy of a HumanEval function, a GSM8K question in a docstring),
so the report shows every matcher at work. Writes ``{lake}/decontaminate/sample_code`` and its report.
"""

from __future__ import annotations

from codeflow.runner import RunSummary


def planted_rows(sample_files: list[tuple[str, str]]) -> list[dict]:
    """Four sample files with a benchmark item pasted into each (see the module docstring)."""
    from codeflow.decontam.benchmarks import REGISTRY, load_items
    from codeflow.decontam.plant import plant, python_item, variant
    from codeflow.records import stable_id

    he = {it.task_id: dict((f, t) for f, _, t in it.segments) for it in load_items(REGISTRY["humaneval"])}
    mbpp = {it.task_id: dict((f, t) for f, _, t in it.segments) for it in load_items(REGISTRY["mbpp"])}
    gsm = load_items(REGISTRY["gsm8k"])[42].segments[0][2]
    pastes = [
        ("verbatim", python_item(he["HumanEval/0"]["prompt"], he["HumanEval/0"]["canonical_solution"])),
        ("renamed", python_item(mbpp["MBPP/3"]["prompt"], mbpp["MBPP/3"]["canonical_solution"]).expandtabs(4)),
        ("reindented", python_item(he["HumanEval/31"]["prompt"], he["HumanEval/31"]["canonical_solution"])),
        ("verbatim", f'def word_problem():\n    """{gsm}"""\n    return None\n'),
    ]
    rows = []
    for (path, host), (kind, item) in zip(sample_files, pastes, strict=False):
        content = plant(host, variant(item, kind))
        rows.append({"id": stable_id("demo/planted", path, content, prefix="file:"), "repo": "demo/planted",
                     "commit": "0" * 40, "path": path, "language": None, "content": content,
                     "size": len(content.encode()), "sha": None, "source": f"demo/planted:{path} ({kind} paste)"})
    return rows


def demo_decontaminate(lake: str, engine: str) -> list[RunSummary]:
    import pyarrow as pa

    from codeflow.decontam.benchmarks import resolve
    from codeflow.decontam.run import run_decontaminate
    from codeflow.lake import StageOutput, atomic_write_parquet
    from codeflow.records import CODE_FILE_SCHEMA

    code = StageOutput(f"{lake}/code/sample_repos")
    summaries: list[RunSummary] = []
    if not code.is_complete():
        from codeflow.demo import demo_code

        summaries.extend(demo_code(lake, engine))
    units = [code.url.rstrip("/") + "/" + code.kept_path(m["index"]).rsplit("/", 1)[1]
             for m in code.committed_markers()]
    from pathlib import Path

    from codeflow.demo import sample_path

    repo = Path(sample_path("code", "repo"))
    files = [(p.relative_to(repo).as_posix(), p.read_text(encoding="utf-8"))
             for p in sorted((repo / "src").rglob("*")) if p.is_file()][:4]
    planted = StageOutput(f"{lake}/decontaminate/_demo_input")
    table = pa.Table.from_pylist(planted_rows(files), schema=CODE_FILE_SCHEMA)
    atomic_write_parquet(planted.fs, planted.path("planted.parquet"), table)
    units.append(planted.url.rstrip("/") + "/planted.parquet")
    # overwrite: the code shards include this checkout's HEAD, which moves between runs
    summary = run_decontaminate(units, f"{lake}/decontaminate/sample_code", resolve("all"), engine=engine,
                                workers=2, overwrite=True)
    from codeflow.ui import console

    console.print(f"[bold cyan]decontamination report:[/] {summary.stats['report']}")
    return [*summaries, summary]
