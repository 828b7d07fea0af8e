"""``_report.html`` beside near-dup dedup output: what was removed, how clusters are shaped, and the LSH curve.

Built from :mod:`codeflow.html_report`: self-contained (inline SVG, no scripts or network assets) and
deterministic (no timings), so it is the same for both engines. The S-curve shows, for the configured
bands x rows, the probability that a pair of a given Jaccard similarity becomes a candidate: the first thing to
look at when choosing ``--bands/--rows``.
"""

from __future__ import annotations

from collections import Counter

from codeflow.html_report import Html, bars, code, esc, grid, kv_table, page, section
from codeflow.lake import StageOutput, atomic_write_bytes
from codeflow.runner import RunSummary

SIZE_BINS = [(2, 2), (3, 3), (4, 4), (5, 9), (10, 99), (100, 999), (1000, None)]


def _s_curve(bands: int, rows: int, threshold: float) -> Html:
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
    return section(f"P(candidate) for {bands} bands x {rows} rows",
                   f"<svg width='{w}' height='{h}' role='img'>{axes}<polyline fill='none' stroke='#4c78a8' "
                   f"stroke-width='2' points='{' '.join(pts)}'/>{mark}</svg>")


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
    size_bars = {(f"{lo}" if lo == hi else f"{lo}+" if hi is None else f"{lo}–{hi}"): sizes[(lo, hi)]
                 for lo, hi in SIZE_BINS}
    cstats = {k.removeprefix("cluster_"): v for k, v in sorted(summary.stats.items()) if k.startswith("cluster_")}
    top = [(code(k), v) for k, v in sorted(clusters.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
    charts = [section("Rejects by reason", kv_table(sorted(summary.reasons.items()))),
              section("Clustering", kv_table(cstats)), bars("Clusters by size (documents)", size_bars)]
    if "bands" in config and "rows" in config and "ngram" in config:
        charts.append(_s_curve(int(config["bands"]), int(config["rows"]), float(config["threshold"])))
    charts += [section("Largest clusters (keeper id, size)", kv_table(top)),
               section("Config", kv_table((str(k), code(v)) for k, v in sorted(config.items())))]
    body = [f"<h1>{esc(summary.stage)}: {summary.kept:,} kept, {summary.rejected:,} removed of "
            f"{summary.rows_in:,}</h1>", grid(charts)]
    path = out.path("_report.html")
    atomic_write_bytes(out.fs, path, page(f"{summary.stage} report", body).encode())
    return path
