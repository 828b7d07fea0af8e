"""``codeflow clean-cc``: WARC/WET files -> clean documents + byte-exact code blocks, with a funnel report."""

from __future__ import annotations

import click

from codeflow.commands.common import engine_options


@click.command("clean-cc")
@click.option("--warc", "warcs", multiple=True, required=True,
              help="WARC / WARC.gz / WET file, folder or glob; repeatable. One file = one unit (shard).")
@click.option("--out", required=True, help="Output folder or fsspec URL; documents/ and code_blocks/ go under it.")
@click.option("--languages", default="en", show_default=True,
              help="Comma-separated ISO codes to keep (fastText lid.176); empty keeps every language.")
@click.option("--min-language-score", type=float, default=0.65, show_default=True)
@click.option("--max-page-bytes", type=int, default=2 << 20, show_default=True,
              help="Larger payloads are rejected as too_large.")
@click.option("--min-text-chars", type=int, default=200, show_default=True,
              help="Prose shorter than this after cleaning is rejected as empty_extraction.")
@click.option("--no-fences", is_flag=True, help="Do not put code blocks back into the document text.")
@engine_options
def clean_cc(warcs: tuple[str, ...], out: str, languages: str, min_language_score: float, max_page_bytes: int,
             min_text_chars: int, no_fences: bool, engine: str, workers: int, overwrite: bool) -> None:
    """Clean Common Crawl WARC files: extract text and code blocks, clean, language-ID, quality-filter.

    Every page record ends as a kept document or a reject with a reason (OUT/documents/rejects); code blocks
    (OUT/code_blocks) are kept whatever happens to the page's prose. OUT/report.html draws the funnel.
    """
    from codeflow.sources import expand_inputs
    from codeflow.ui import console, print_summary
    from codeflow.web.config import CleanCCConfig
    from codeflow.web.stage import WARC_SUFFIXES, run_clean_cc

    units = expand_inputs(list(warcs), suffixes=WARC_SUFFIXES)
    langs = tuple(x.strip() for x in languages.split(",") if x.strip())
    from codeflow.web.lid import known_languages

    unknown = sorted(set(langs) - known_languages())
    if unknown:
        raise click.BadParameter(f"unknown language code(s) {', '.join(unknown)}; use ISO 639 codes the "
                                 f"language-ID model knows (e.g. en, de, zh)", param_hint="--languages")
    cfg = CleanCCConfig(languages=langs, min_language_score=min_language_score, max_page_bytes=max_page_bytes,
                        min_text_chars=min_text_chars, fence_code_in_text=not no_fences)
    summaries = run_clean_cc(units, out, cfg, engine=engine, workers=workers, overwrite=overwrite)
    print_summary(summaries)
    console.print(f"report: {out.rstrip('/')}/report.html")
