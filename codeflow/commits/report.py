"""``_report.html`` beside the triplets: what was mined, what was filtered, and why repos or starts were rejected.

Self-contained (inline SVG, no scripts, no network assets) and deterministic (no timings), so it opens from any
lake folder and is identical for both engines.
"""

from __future__ import annotations

import html
from collections import Counter

import pyarrow.compute as pc

from codeflow.lake import StageOutput, atomic_write_bytes
from codeflow.runner import RunSummary

CSS = ("body{font:14px system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}h1{font-size:20px}"
       "h2{font-size:16px;margin-top:28px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:18px}"
       "table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;"
       "vertical-align:top}code{font-size:12px}.muted{color:#777}")


def _bars(title: str, items: dict[str, float], color: str = "#4c78a8") -> str:
    """Horizontal bar chart of label -> value."""
    if not items:
        return f"<div><h2>{html.escape(title)}</h2><p class=muted>none</p></div>"
    width, row, label_w = 480, 20, 190
    top = max(items.values()) or 1
    parts = []
    for i, (label, value) in enumerate(items.items()):
        w = (width - label_w - 60) * value / top
        y = i * row
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">'
                     f'{html.escape(str(label))[:32]}</text><rect x="{label_w}" y="{y + 3}" width="{w:.1f}" '
                     f'height="{row - 6}" fill="{color}"/><text x="{label_w + w + 4:.1f}" y="{y + 14}" '
                     f'font-size="12">{value:g}</text>')
    svg = f'<svg width="{width}" height="{row * len(items)}" role="img">{"".join(parts)}</svg>'
    return f"<div><h2>{html.escape(title)}</h2>{svg}</div>"


def _hist(title: str, values: list[float], bins: list[float], color: str = "#59a14f") -> str:
    counts = Counter()
    for v in values:
        for lo, hi in zip(bins, bins[1:], strict=False):
            if lo <= v < hi or (hi == bins[-1] and v == hi):
                counts[(lo, hi)] += 1
                break
    return _bars(title, {f"{lo:g}-{hi:g}": counts[(lo, hi)] for lo, hi in zip(bins, bins[1:], strict=False)},
                 color)


def write_report(summary: RunSummary) -> str:
    """Write ``_report.html`` into the run's output folder; returns its path."""
    out = StageOutput(summary.out)
    kept = out.read_kept(["repo", "start_commit", "end_commit", "start_percentile", "n_commits", "messages",
                          "score", "stats"]) if summary.kept else None
    filters = {k.removeprefix("filter_"): v for k, v in sorted(summary.stats.items(), key=lambda kv: -kv[1])
               if k.startswith("filter_")}
    body = [f"<h1>Commit triplets: {summary.kept} kept of {summary.rows_in} tried</h1>",
            f"<p>{int(summary.stats.get('repos_in', 0))} repositories, "
            f"{int(summary.stats.get('repos_rejected', 0))} rejected as a whole; "
            f"{int(summary.stats.get('commits_scanned', 0))} commits scanned. Rows in = kept + rejected: "
            f"{summary.rows_in} = {summary.kept} + {summary.rejected}.</p><div class=grid>",
            _bars("Rejects by reason", dict(sorted(summary.reasons.items(), key=lambda kv: -kv[1])), "#e15759"),
            _bars("Walked commits by filter result", filters, "#f28e2b")]
    if kept is not None:
        stats = kept.column("stats")
        lines = [a + r for a, r in zip(pc.struct_field(stats, "added").to_pylist(),
                                       pc.struct_field(stats, "removed").to_pylist(), strict=True)]
        langs = Counter(lang for ls in pc.struct_field(stats, "languages").to_pylist() for lang in ls)
        body += [_hist("Endpoint score", kept.column("score").to_pylist(), [i / 10 for i in range(11)]),
                 _hist("Start lifecycle percentile", kept.column("start_percentile").to_pylist(),
                       [i / 10 for i in range(11)]),
                 _hist("Commits per triplet", kept.column("n_commits").to_pylist(), [1, 2, 3, 5, 9, 17, 33, 1e9]),
                 _hist("Changed lines per triplet", lines, [0, 10, 25, 50, 100, 200, 400, 1e9]),
                 _bars("Languages (triplets touching)", dict(langs.most_common(12)), "#76b7b2")]
    body.append("</div>")
    if kept is not None:
        rows = sorted(kept.select(["repo", "start_commit", "end_commit", "score", "messages"]).to_pylist(),
                      key=lambda r: (-r["score"], r["repo"], r["start_commit"]))[:15]
        body.append("<h2>Best triplets</h2><table><tr><th>repo</th><th>start..end</th><th>score</th>"
                    "<th>last message</th></tr>")
        for r in rows:
            msg = (r["messages"][-1] if r["messages"] else "").split("\n")[0]
            body.append(f"<tr><td>{html.escape(r['repo'])}</td><td><code>{r['start_commit'][:10]}.."
                        f"{r['end_commit'][:10]}</code></td><td>{r['score']:.3f}</td>"
                        f"<td>{html.escape(msg[:120])}</td></tr>")
        body.append("</table>")
    page = (f"<!doctype html><html><head><meta charset=utf-8><title>codeflow triplets</title><style>{CSS}"
            f"</style></head><body>{''.join(body)}</body></html>\n")
    path = out.path("_report.html")
    atomic_write_bytes(out.fs, path, page.encode())
    return path
