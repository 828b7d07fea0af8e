"""The clean-cc funnel as data (``_funnel.json``) and as a self-contained HTML page with inline SVG charts.

People look at a funnel rather than read it: where do pages go, which rule eats the most, what languages
survive, what code comes out. Built from :mod:`codeflow.html_report`: no scripts, no network assets, so the file
opens from any lake folder.
"""

from __future__ import annotations

from typing import Any

from codeflow.html_report import bars, grid, kv_table, page, section, stat_tiles
from codeflow.html_report import code as code_text
from codeflow.runner import RunSummary
from codeflow.web.pipeline import CODE_REASONS, REASONS

STEP_LABELS = {
    "not_an_archive": "WARC/ARC files", "empty_file": "non-empty files", "warc_read_error": "readable",
    "truncated_record": "complete records", "empty_record": "non-empty records", "http_status": "HTTP 2xx",
    "not_html": "HTML", "too_large": "size ok", "decode_error": "decoded", "parse_error": "parsed",
    "extraction_timeout": "extracted in time", "extraction_crash": "extractor alive",
    "empty_extraction": "text extracted", "language": "language kept", "gopher_repetition": "Gopher repetition",
    "gopher_quality": "Gopher quality", "c4_quality": "C4", "fineweb_quality": "FineWeb",
}


def _prefixed(stats: dict[str, Any], prefix: str) -> dict[str, int]:
    items = {k[len(prefix):]: int(v) for k, v in stats.items() if k.startswith(prefix)}
    return dict(sorted(items.items(), key=lambda kv: (-kv[1], kv[0])))


def funnel_data(docs: RunSummary, code: RunSummary) -> dict[str, Any]:
    """Funnel steps in pipeline order, reasons, languages, rules and code-block numbers."""
    remaining = docs.rows_in
    steps = [{"step": "WARC page records", "remaining": remaining, "dropped": 0, "reason": None}]
    known = set(REASONS)
    for reason in REASONS + tuple(sorted(set(docs.reasons) - known)):
        n = int(docs.reasons.get(reason, 0))
        remaining -= n
        steps.append({"step": STEP_LABELS.get(reason, reason), "remaining": remaining, "dropped": n,
                      "reason": reason})
    return {
        "records_in": docs.rows_in, "documents_kept": docs.kept, "documents_rejected": docs.rejected,
        "reconciles": docs.rows_in == docs.kept + docs.rejected,
        "rejected_by_reason": dict(sorted(docs.reasons.items())),
        "funnel": steps,
        "languages_kept": _prefixed(docs.stats, "lang:"),
        "languages_rejected": _prefixed(docs.stats, "lang_rejected:"),  # "<lang>:<reason>" -> pages
        "rules_fired_docs": _prefixed(docs.stats, "rule:"),
        "charset_source": _prefixed(docs.stats, "charset_source:"),
        "other_warc_records": _prefixed(docs.stats, "other_records:"),
        "code_blocks_in": code.rows_in, "code_blocks_kept": code.kept, "code_blocks_rejected": code.rejected,
        "code_rejected_by_reason": {r: int(code.reasons.get(r, 0)) for r in CODE_REASONS if code.reasons.get(r)},
        "code_languages": _prefixed(code.stats, "code_lang:"),
        "code_language_source": _prefixed(code.stats, "code_lang_source:"),
        "bytes_in": int(docs.stats.get("bytes_in", 0)),
        "outputs": {"documents": docs.out, "code_blocks": code.out},
    }


def render_html(data: dict[str, Any]) -> str:
    """The funnel page for :func:`funnel_data`'s dict (the same dict gives the same bytes)."""
    funnel = [(s["step"], s["remaining"]) for s in data["funnel"] if s["dropped"] or s["reason"] is None]
    funnel.append(("kept documents", data["documents_kept"]))
    dropped = [(s["reason"], s["dropped"]) for s in data["funnel"] if s["dropped"]]
    ok = "reconciles" if data["reconciles"] else "DOES NOT RECONCILE"
    body = [
        "<h1>Common Crawl cleaning (clean-cc)</h1>",
        stat_tiles([(data["records_in"], "page records in"), (data["documents_kept"], "documents kept"),
                    (data["documents_rejected"], "rejected"), (data["code_blocks_kept"], "code blocks kept")]),
        f"<p>Accounting: {data['records_in']:,} in = {data['documents_kept']:,} kept + "
        f"{data['documents_rejected']:,} rejected &mdash; <b>{ok}</b>. Code blocks: {data['code_blocks_in']:,} "
        f"candidates = {data['code_blocks_kept']:,} kept + {data['code_blocks_rejected']:,} rejected (code blocks "
        "are kept even when the page's prose is not).</p>",
        bars("Funnel (pages remaining after each step)", funnel, "#3b7dd8", total=data["records_in"]),
        grid([
            bars("Rejected documents by reason", dropped, "#d8613b"),
            bars("Languages of kept documents (fastText lid.176)", data["languages_kept"], "#4caf50"),
            section("Rejected after language ID, by language and reason",
                    kv_table(data["languages_rejected"], ("language:reason", "pages"))),
            bars("Code blocks by language", list(data["code_languages"].items())[:25], "#8e44ad"),
            section("How code languages were found", kv_table(data["code_language_source"], ("source", "blocks"))),
            section("Code block rejects", kv_table(data["code_rejected_by_reason"], ("reason", "blocks"))),
            section("Cleaning rules (documents changed)", kv_table(data["rules_fired_docs"], ("rule", "documents"))),
            section("Charset decisions", kv_table(data["charset_source"], ("evidence", "pages"))),
            section("Other WARC records (not pages, not counted as rows)",
                    kv_table(data["other_warc_records"], ("type", "n"))),
        ]),
        f"<p>Outputs: {code_text(data['outputs']['documents'])}, {code_text(data['outputs']['code_blocks'])}</p>",
    ]
    return page("codeflow clean-cc report", body)
