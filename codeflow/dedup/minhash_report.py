"""``_report.html`` beside near-dup dedup output: what was removed, how clusters are shaped, and the LSH curve.

Self-contained (inline SVG, no scripts or network assets) and deterministic (no timings), so it is the same
for both engines. The S-curve shows, for the configured bands x rows, the probability that a pair of a given
Jaccard similarity becomes a candidate: the first thing to look at when choosing ``--bands/--rows``.
"""

from __future__ import annotations

import html
from collections import Counter

from codeflow.lake import StageOutput, atomic_write_bytes
from codeflow.runner import RunSummary

CSS = ("body{font:14px system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}h1{font-size:20px}"
       "h2{font-size:16px;margin-top:28px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:18px}"
       "table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}"
       "code{font-size:12px}.muted{color:#777}")
SIZE_BINS = [(2, 2), (3, 3), (4, 4), (5, 9), (10, 99), (100, 999), (1000, None)]


def _bars(title: str, items: dict[str, int]) -> str:
    if not any(items.values()):
        return f"<div><h2>{html.escape(title)}</h2><p class=muted>none</p></div>"
    width, row, label_w = 460, 22, 110
    top = max(items.values())
    parts = []
    for i, (label, value) in enumerate(items.items()):
        w = (width - label_w - 70) * value / top
        y = i * row
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{html.escape(label)}'
                     f'</text><rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" fill="#4c78a8"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="12">{value:,}</text>')
    return (f"<div><h2>{html.escape(title)}</h2><svg width='{width}' height='{row * len(items)}' role='img'>"
            f"{''.join(parts)}</svg></div>")


def _s_curve(bands: int, rows: int, threshold: float) -> str:
    """P(candidate | Jaccard s) = 1 - (1 - s^rows)^bands, with the verification threshold marked."""
    w, h, pad = 420, 240, 36
    pts = []
    for i in range(101):
        s = i / 100
        p = 1 - (1 - s ** rows) ** bands
        pts.append(f"{pad + s * (w - 2 * pad):.1f},{h - pad - p * (h - 2 * pad):.1f}")
    x_t = pad + threshold * (w - 2 * pad)
    axes = (f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#999"/>'
            f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="#999"/>'
            f'<text x="{w / 2}" y="{h - 6}" font-size="12" text-anchor="middle">Jaccard similarity</text>'
            f'<text x="{pad - 4}" y="{pad + 4}" font-size="11" text-anchor="end">1</text>'
            f'<text x="{pad - 4}" y="{h - pad}" font-size="11" text-anchor="end">0</text>')
    mark = (f'<line x1="{x_t:.1f}" y1="{pad}" x2="{x_t:.1f}" y2="{h - pad}" stroke="#e15759" stroke-dasharray="4"/>'
            f'<text x="{x_t + 4:.1f}" y="{pad + 12}" font-size="11" fill="#e15759">threshold {threshold:g}</text>')
    return (f"<div><h2>P(candidate) for {bands} bands x {rows} rows</h2><svg width='{w}' height='{h}' role='img'>"
            f"{axes}<polyline fill='none' stroke='#4c78a8' stroke-width='2' points='{' '.join(pts)}'/>{mark}"
            "</svg></div>")


def write_report(summary: RunSummary, config: dict) -> str:
    """Write ``_report.html`` into the run's output folder; returns its path."""
    out = StageOutput(summary.out)
    rejects = out.read_rejects()
    clusters: Counter = Counter()
    for reason, detail in zip(rejects.column("reason").to_pylist(), rejects.column("detail").to_pylist(),
                              strict=True):
        if reason in ("near_duplicate", "semantic_duplicate") and detail:
            keeper, size = detail.split()
            clusters[keeper.removeprefix("keeper=")] = int(size.removeprefix("group_size="))
    sizes = Counter()
    for size in clusters.values():
        for lo, hi in SIZE_BINS:
            if size >= lo and (hi is None or size <= hi):
                sizes[(lo, hi)] += 1
    size_bars = {(f"{lo}" if lo == hi else f"{lo}+" if hi is None else f"{lo}-{hi}"): sizes[(lo, hi)]
                 for lo, hi in SIZE_BINS}
    reasons = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:,}</td></tr>" for k, v in sorted(summary.reasons.items()))
    cstats = "".join(f"<tr><td>{html.escape(k.removeprefix('cluster_'))}</td><td>{v:,}</td></tr>"
                     for k, v in sorted(summary.stats.items()) if k.startswith("cluster_"))
    top = "".join(f"<tr><td><code>{html.escape(k)}</code></td><td>{v:,}</td></tr>"
                  for k, v in sorted(clusters.items(), key=lambda kv: (-kv[1], kv[0]))[:10])
    cfg = "".join(f"<tr><td>{html.escape(str(k))}</td><td><code>{html.escape(str(v))}</code></td></tr>"
                  for k, v in sorted(config.items()))
    body = [f"<h1>{html.escape(summary.stage)}: {summary.kept:,} kept, {summary.rejected:,} removed of "
            f"{summary.rows_in:,}</h1>",
            "<div class=grid>",
            f"<div><h2>Rejects by reason</h2><table>{reasons}</table><h2>Clustering</h2><table>{cstats}</table></div>",
            _bars("Clusters by size (documents)", size_bars)]
    if "bands" in config and "rows" in config and "ngram" in config:
        body.append(_s_curve(int(config["bands"]), int(config["rows"]), float(config["threshold"])))
    body += [f"<div><h2>Largest clusters (keeper id, size)</h2><table>{top or '<tr><td>none</td></tr>'}</table>"
             "</div>", f"<div><h2>Config</h2><table>{cfg}</table></div>", "</div>"]
    page = (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(summary.stage)} report</title>"
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")
    path = out.path("_report.html")
    atomic_write_bytes(out.fs, path, page.encode())
    return path
