"""``report.html`` beside the code-file shards: what was kept per language, what was rejected and why.

Every reject reason lists its files (the first ``REJECTS_SHOWN``, sorted, with the detail: the first error of a
syntax error, the matching rule of a config file), and files kept although the grammar reported errors are
counted per kind. Built from :mod:`codeflow.html_report`: self-contained (inline SVG, no scripts, no network
assets) and deterministic (no timings, sorted), so both engines write the same report and it opens from any lake
folder.
"""

from __future__ import annotations

import math
from collections import Counter

from codeflow.html_report import bars, code, grid, histogram, page, section, table
from codeflow.lake import StageOutput, atomic_write_bytes
from codeflow.runner import RunSummary

REJECTS_SHOWN = 50  # files listed per reject reason


def render(summary: RunSummary, out: StageOutput) -> str:
    """The report page of a code run (reads the small columns of the kept shards and the rejects)."""
    kept = out.read_kept(["language", "size", "lines", "max_depth", "comment_ratio"]) if summary.kept else None
    rejects = out.read_rejects() if summary.rejected else None
    body = [f"<h1>codeflow code: {summary.kept:,} of {summary.rows_in:,} files kept</h1>",
            f"<p>{int(summary.stats.get('repos_in', 0))} repositories "
            f"({int(summary.stats.get('repos_rejected', 0))} unreadable, "
            f"{int(summary.stats.get('repos_shallow', 0))} shallow); "
            f"{summary.stats.get('bytes_kept', 0) / 1e6:,.2f} MB kept of "
            f"{summary.stats.get('bytes_in', 0) / 1e6:,.2f} MB read.</p>"]
    charts = []
    if kept is not None and kept.num_rows:
        langs = Counter()
        for lang, size in zip(kept.column("language").to_pylist(), kept.column("size").to_pylist(), strict=True):
            langs[lang] += size
        charts.append(bars("Kept kilobytes by language",
                           [(k, v / 1e3) for k, v in sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))],
                           fmt="{:,.1f}"))
    charts.append(bars("Rejected files by reason", sorted(summary.reasons.items(), key=lambda kv: (-kv[1], kv[0])),
                       "#e45756"))
    if kept is not None and kept.num_rows:
        lines = [v for v in kept.column("lines").to_pylist() if v is not None]
        charts.append(histogram("Kept files by lines", lines, [0, 25, 50, 100, 250, 500, 1000, math.inf]))
        ratios = [v for v in kept.column("comment_ratio").to_pylist() if v is not None]
        if ratios:
            charts.append(histogram("Kept files by comment ratio", ratios, [0, 0.01, 0.05, 0.1, 0.2, 0.4, 1.0],
                                    "#b279a2"))
    body.append(grid(charts))
    tolerated = sorted((k.split(".", 1)[1], int(v)) for k, v in summary.stats.items() if k.startswith("tolerated."))
    if tolerated:
        body.append(section("Kept despite parse errors (grammar gaps: macro token trees, preprocessor lines)", table(
            ("kind", "files"), tolerated)))
    if rejects is not None and rejects.num_rows:
        body.append(reject_lists(rejects))
    return page("codeflow code report", body)


def reject_lists(rejects, cap: int = REJECTS_SHOWN) -> str:
    """Every reject reason with its files and details, most frequent reason first, ``cap`` files each (sorted).

    Why: a reason count says how much was dropped, the paths say whether it was right to drop it; reading the
    list is how a valid source file rejected by mistake gets noticed.
    """
    by_reason: dict[str, list[tuple[str, str]]] = {}
    for reason, source, detail in zip(rejects.column("reason").to_pylist(), rejects.column("source").to_pylist(),
                                      rejects.column("detail").to_pylist(), strict=True):
        by_reason.setdefault(reason, []).append((source or "", detail or ""))
    parts = []
    for reason, rows in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        rows.sort()
        title = f"Rejected as {reason}: {len(rows):,} file{'s' if len(rows) != 1 else ''}"
        if len(rows) > cap:
            title += f" (first {cap})"
        parts.append(section(title, table(("file", "detail"), [(code(s), code(d)) for s, d in rows[:cap]])))
    return "".join(parts)


def write_report(summary: RunSummary) -> str:
    """Write ``report.html`` into the run's output folder; returns its path."""
    out = StageOutput(summary.out)
    atomic_write_bytes(out.fs, out.path("report.html"), render(summary, out).encode("utf-8"))
    return out.path("report.html")
