"""``codeflow decontaminate``: remove (or flag) records that overlap evaluation benchmarks, with a report."""

from __future__ import annotations

import click

from codeflow.commands.common import engine_options


@click.command()
@click.option("--input", "inputs", multiple=True,
              help="Lake shards (Parquet/JSONL): file, folder or glob; repeatable.")
@click.option("--out", required=True, help="Output folder or fsspec URL.")
@click.option("--benchmarks", "names", default="all", show_default=True,
              help="Comma-separated registered benchmarks (codeflow benchmarks list), 'all' or 'none'.")
@click.option("--benchmark", "user_specs", multiple=True, metavar="NAME=PATH.jsonl:FIELD[@code|@prose],...",
              help="An extra benchmark from a JSON-lines file; repeatable (fields default to code).")
@click.option("--mode", type=click.Choice(["remove", "annotate"]), default="remove", show_default=True,
              help="remove: reject contaminated records; annotate: keep all, add a 'contamination' column.")
@click.option("--matchers", default="ngram,substring,minhash", show_default=True,
              help="Any of ngram, substring, minhash, embedding (embedding is off unless named).")
@click.option("--ngram-threshold", type=click.FloatRange(0, 1, min_open=True), default=0.5, show_default=True,
              help="Share of a benchmark field's distinct n-grams a record must contain.")
@click.option("--code-n", type=click.IntRange(min=2), default=10, show_default=True, help="Code-token n-gram size.")
@click.option("--prose-n", type=click.IntRange(min=2), default=13, show_default=True, help="Word n-gram size.")
@click.option("--min-substring-chars", type=click.IntRange(min=1), default=40, show_default=True,
              help="Exact-substring matcher: shortest normalised benchmark field it looks for.")
@click.option("--fuzzy-threshold", type=click.FloatRange(0, 1, min_open=True), default=0.75, show_default=True,
              help="MinHash matcher: estimated Jaccard (abstract code tokens) a window must reach.")
@click.option("--encoder", default="hashing", show_default=True,
              help="Embedding matcher: 'hashing[:DIM]', a local sentence-transformers folder, or module:attr.")
@click.option("--embedding-threshold", type=click.FloatRange(0, 1, min_open=True), default=0.92, show_default=True)
@click.option("--text-column", default=None, help="Column to match (default: content, else text).")
@click.option("--report-only", is_flag=True, help="Re-render OUT/decontamination.html from decontamination.json.")
@click.option("--no-report", is_flag=True, help="Skip the report.")
@engine_options
def decontaminate(inputs: tuple[str, ...], out: str, names: str, user_specs: tuple[str, ...], mode: str,
                  matchers: str, ngram_threshold: float, code_n: int, prose_n: int, min_substring_chars: int,
                  fuzzy_threshold: float, encoder: str, embedding_threshold: float, text_column: str | None,
                  report_only: bool, no_report: bool, engine: str, workers: int, overwrite: bool) -> None:
    """Match records against benchmark items (n-gram overlap, exact substring, MinHash, embeddings)."""
    from codeflow.decontam.index import MATCHERS, MatchConfig

    if report_only:
        from codeflow.decontam.report import rerender

        click.echo(f"report: {rerender(out)}")
        return
    if not inputs:
        raise click.UsageError("--input is required (or --report-only)")
    chosen = tuple(m.strip() for m in matchers.split(",") if m.strip())
    unknown = sorted(set(chosen) - set(MATCHERS))
    if unknown or not chosen:
        raise click.UsageError(f"unknown matcher(s) {', '.join(unknown) or '(none given)'}; choose from "
                               f"{', '.join(MATCHERS)}")
    from codeflow.decontam.benchmarks import resolve
    from codeflow.decontam.run import run_decontaminate
    from codeflow.sources import expand_inputs
    from codeflow.ui import print_summary

    benchmarks = resolve(names, user_specs)
    match = MatchConfig(matchers=tuple(m for m in MATCHERS if m in chosen), code_n=code_n, prose_n=prose_n,
                        ngram_threshold=ngram_threshold, min_substring_chars=min_substring_chars,
                        fuzzy_threshold=fuzzy_threshold, encoder=encoder, embedding_threshold=embedding_threshold)
    summary = run_decontaminate(expand_inputs(list(inputs)), out, benchmarks, match, mode=mode,
                                text_column=text_column, engine=engine, workers=workers, overwrite=overwrite,
                                report=not no_report)
    print_summary([summary])
    if not no_report:
        click.echo(f"report: {summary.stats['report']}")
