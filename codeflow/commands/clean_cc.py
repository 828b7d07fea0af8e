"""``codeflow clean-cc``: WARC/WET files -> clean documents + byte-exact code blocks, with a funnel report."""

from __future__ import annotations

import click

from codeflow.commands.common import engine_options
from codeflow.errors import CodeflowError


def archive_units(paths: list[str]) -> list[str]:
    """The WARC / WET / ARC files named by ``paths``; WAT files are refused by name, not as "no input files"."""
    from codeflow.sources import expand_inputs
    from codeflow.ui import console
    from codeflow.web.warc import ARCHIVE_SUFFIXES, WAT_SUFFIXES

    found = expand_inputs(paths, suffixes=ARCHIVE_SUFFIXES + WAT_SUFFIXES)
    wats = [u for u in found if u.lower().endswith(WAT_SUFFIXES)]
    units = [u for u in found if not u.lower().endswith(WAT_SUFFIXES)]
    if wats and not units:
        raise CodeflowError(f"{wats[0]} is a WAT file: WAT holds metadata about pages (links, HTTP headers), not "
                            "the pages; give clean-cc the WARC (or WET) files of the same crawl")
    if wats:
        console.print(f"skipped {len(wats)} WAT file(s): metadata about pages, not pages (e.g. {wats[0]})")
    return units


@click.command("clean-cc")
@click.option("--warc", "warcs", multiple=True, required=True,
              help="WARC / WET / ARC file (plain or .gz), folder or glob; repeatable. One file = one unit (shard).")
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
    from codeflow.ui import console, print_summary
    from codeflow.web.config import CleanCCConfig
    from codeflow.web.stage import run_clean_cc

    units = archive_units(list(warcs))
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
