"""The clean-cc funnel as data (``_funnel.json``) and as a self-contained HTML page with inline SVG charts.

People look at a funnel rather than read it: where do pages go, which rule eats the most, what languages
survive, what code comes out. No scripts, no network assets: the file opens from any lake folder.
"""

from __future__ import annotations

import html
from typing import Any

from codeflow.runner import RunSummary
from codeflow.web.pipeline import CODE_REASONS, REASONS

STEP_LABELS = {
    "warc_read_error": "readable", "truncated_record": "complete records", "http_status": "HTTP 2xx",
    "not_html": "HTML", "too_large": "size ok", "decode_error": "decoded", "parse_error": "parsed",
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


def _bars(rows: list[tuple[str, int]], color: str, width: int = 640, total: int | None = None) -> str:
    """Horizontal bar chart as inline SVG."""
    if not rows:
        return "<p><em>none</em></p>"
    top = max(1, total if total is not None else max(v for _, v in rows))
    bar_h, label_w, pad = 22, 190, 4
    h = len(rows) * (bar_h + pad) + pad
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img">']
    for i, (label, value) in enumerate(rows):
        y = pad + i * (bar_h + pad)
        w = int((width - label_w - 70) * value / top)
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
                     f"{html.escape(str(label))}</text>")
        parts.append(f'<rect x="{label_w}" y="{y}" width="{max(w, 1)}" height="{bar_h}" fill="{color}"/>')
        parts.append(f'<text x="{label_w + max(w, 1) + 5}" y="{y + 15}" font-size="12">{value:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(d: dict[str, int], head: tuple[str, str]) -> str:
    if not d:
        return "<p><em>none</em></p>"
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td class=n>{v:,}</td></tr>" for k, v in d.items())
    return f"<table><tr><th>{head[0]}</th><th>{head[1]}</th></tr>{rows}</table>"


def render_html(data: dict[str, Any]) -> str:
    funnel = [(s["step"], s["remaining"]) for s in data["funnel"] if s["dropped"] or s["reason"] is None]
    funnel.append(("kept documents", data["documents_kept"]))
    dropped = [(s["reason"], s["dropped"]) for s in data["funnel"] if s["dropped"]]
    ok = "reconciles" if data["reconciles"] else "DOES NOT RECONCILE"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>codeflow clean-cc report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:980px}}h2{{margin-top:1.6em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}td.n{{text-align:right}}
.kpi{{display:inline-block;margin-right:2em}}.kpi b{{font-size:1.6em;display:block}}</style></head><body>
<h1>Common Crawl cleaning (clean-cc)</h1>
<div class=kpi><b>{data["records_in"]:,}</b>page records in</div>
<div class=kpi><b>{data["documents_kept"]:,}</b>documents kept</div>
<div class=kpi><b>{data["documents_rejected"]:,}</b>rejected</div>
<div class=kpi><b>{data["code_blocks_kept"]:,}</b>code blocks kept</div>
<p>Accounting: {data["records_in"]:,} in = {data["documents_kept"]:,} kept + {data["documents_rejected"]:,}
rejected &mdash; <b>{ok}</b>. Code blocks: {data["code_blocks_in"]:,} candidates = {data["code_blocks_kept"]:,}
kept + {data["code_blocks_rejected"]:,} rejected (code blocks are kept even when the page's prose is not).</p>
<h2>Funnel (pages remaining after each step)</h2>{_bars(funnel, "#3b7dd8", total=data["records_in"])}
<h2>Rejected documents by reason</h2>{_bars(dropped, "#d8613b")}
<h2>Languages of kept documents (fastText lid.176)</h2>{_bars(list(data["languages_kept"].items()), "#4caf50")}
<h2>Rejected after language ID, by language and reason</h2>{_table(data["languages_rejected"], ("language:reason",
                                                                                      "pages"))}
<h2>Code blocks by language</h2>{_bars(list(data["code_languages"].items())[:25], "#8e44ad")}
<h2>How code languages were found</h2>{_table(data["code_language_source"], ("source", "blocks"))}
<h2>Code block rejects</h2>{_table(data["code_rejected_by_reason"], ("reason", "blocks"))}
<h2>Cleaning rules (documents changed)</h2>{_table(data["rules_fired_docs"], ("rule", "documents"))}
<h2>Charset decisions</h2>{_table(data["charset_source"], ("evidence", "pages"))}
<h2>Other WARC records (not pages, not counted as rows)</h2>{_table(data["other_warc_records"], ("type", "n"))}
<p>Outputs: <code>{html.escape(data["outputs"]["documents"])}</code>,
<code>{html.escape(data["outputs"]["code_blocks"])}</code></p>
</body></html>
"""
