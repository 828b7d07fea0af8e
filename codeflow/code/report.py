"""``report.html`` beside the code-file shards: what was kept per language, what was rejected and why.

Self-contained (inline SVG, no scripts, no network assets) and deterministic (no timings, sorted), so both
engines write the same report and it opens straight from any lake folder.
"""

from __future__ import annotations

import html
from collections import Counter

import pyarrow.compute as pc

from codeflow.lake import StageOutput, atomic_write_bytes
from codeflow.runner import RunSummary

_CSS = ("body{font:14px system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}h1{font-size:20px}"
        "h2{font-size:15px;margin:22px 0 6px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}"
        "table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #ddd;padding:3px 8px;"
        "text-align:left}.muted{color:#777}code{font-size:12px}")


def bar_chart(title: str, items: list[tuple[str, float]], color: str = "#4c78a8", fmt: str = "{:,.0f}") -> str:
    """A horizontal bar chart as inline SVG; items keep their order."""
    if not items:
        return f"<div><h2>{html.escape(title)}</h2><p class=muted>none</p></div>"
    width, row, label_w = 520, 19, 170
    top = max(v for _, v in items) or 1
    parts = []
    for i, (label, value) in enumerate(items):
        w = (width - label_w - 80) * value / top
        y = i * row
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="12">'
                     f'{html.escape(label)[:28]}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{color}"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" font-size="12">{fmt.format(value)}</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row * len(items)}" role="img">'
           f'{"".join(parts)}</svg>')
    return f"<div><h2>{html.escape(title)}</h2>{svg}</div>"


def _histogram(values: list[float], edges: list[float]) -> list[tuple[str, float]]:
    counts = [0] * (len(edges) - 1)
    for v in values:
        for i in range(len(edges) - 1):
            if v < edges[i + 1] or i == len(edges) - 2:
                counts[i] += 1
                break
    return [(f"{edges[i]:g}–{edges[i + 1]:g}" if i < len(edges) - 2 else f"≥ {edges[i]:g}", c)
            for i, c in enumerate(counts)]


def render(summary: RunSummary, out: StageOutput) -> str:
    kept = out.read_kept(["language", "size", "lines", "max_depth", "comment_ratio"]) if summary.kept else None
    rejects = out.read_rejects() if summary.rejected else None
    body = [f"<h1>codeflow code: {summary.kept:,} of {summary.rows_in:,} files kept</h1>",
            f"<p>{int(summary.stats.get('repos_in', 0))} repositories "
            f"({int(summary.stats.get('repos_rejected', 0))} unreadable, "
            f"{int(summary.stats.get('repos_shallow', 0))} shallow); "
            f"{summary.stats.get('bytes_kept', 0) / 1e6:,.2f} MB kept of "
            f"{summary.stats.get('bytes_in', 0) / 1e6:,.2f} MB read.</p>",
            "<div class=grid>"]
    if kept is not None and kept.num_rows:
        langs = Counter()
        for lang, size in zip(kept.column("language").to_pylist(), kept.column("size").to_pylist(), strict=True):
            langs[lang] += size
        body.append(bar_chart("Kept kilobytes by language", [(k, v / 1e3) for k, v in
                                                              sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))],
                              fmt="{:,.1f}"))
    reasons = sorted(summary.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    body.append(bar_chart("Rejected files by reason", reasons, color="#e45756"))
    if kept is not None and kept.num_rows:
        lines = [v for v in kept.column("lines").to_pylist() if v is not None]
        body.append(bar_chart("Kept files by lines", _histogram(lines, [0, 25, 50, 100, 250, 500, 1000, 5000]),
                              color="#59a14f"))
        ratios = [v for v in kept.column("comment_ratio").to_pylist() if v is not None]
        if ratios:
            body.append(bar_chart("Kept files by comment ratio",
                                  _histogram(ratios, [0, 0.01, 0.05, 0.1, 0.2, 0.4, 1.0]), color="#b279a2"))
    body.append("</div>")
    if rejects is not None and rejects.num_rows:
        syntax = rejects.filter(pc.equal(rejects.column("reason"), "syntax_error"))
        if syntax.num_rows:
            rows = sorted(zip(syntax.column("source").to_pylist(), syntax.column("detail").to_pylist(), strict=True))
            body.append("<h2>Syntax errors (first 50)</h2><table><tr><th>file</th><th>first error</th></tr>")
            body.extend(f"<tr><td><code>{html.escape(s or '')}</code></td><td><code>{html.escape(d or '')}</code>"
                        f"</td></tr>" for s, d in rows[:50])
            body.append("</table>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>codeflow code report</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>")


def write_report(summary: RunSummary) -> str:
    """Write ``report.html`` into the run's output folder; returns its path."""
    out = StageOutput(summary.out)
    atomic_write_bytes(out.fs, out.path("report.html"), render(summary, out).encode("utf-8"))
    return out.path("report.html")
