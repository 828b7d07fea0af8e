"""``_report.html`` beside the triplets: what was mined, what was filtered, and why repos or starts were rejected.

Built from :mod:`codeflow.html_report`: self-contained (inline SVG, no scripts, no network assets) and
deterministic (no timings), so it opens from any lake folder and is identical for both engines.
"""

from __future__ import annotations

import math
from collections import Counter

import pyarrow.compute as pc

from codeflow.html_report import bars, code, grid, histogram, page, section, table
from codeflow.lake import StageOutput, atomic_write_bytes
from codeflow.runner import RunSummary


def write_report(summary: RunSummary) -> str:
    """Write ``_report.html`` into the run's output folder; returns its path."""
    out = StageOutput(summary.out)
    kept = out.read_kept(["repo", "start_commit", "end_commit", "start_percentile", "n_commits", "messages",
                          "score", "stats"]) if summary.kept else None
    filters = {k.removeprefix("filter_"): v for k, v in sorted(summary.stats.items(), key=lambda kv: -kv[1])
               if k.startswith("filter_")}
    charts = [bars("Rejects by reason", sorted(summary.reasons.items(), key=lambda kv: -kv[1]), "#e15759"),
              bars("Walked commits by filter result", filters, "#f28e2b")]
    body = [f"<h1>Commit triplets: {summary.kept} kept of {summary.rows_in} tried</h1>",
            f"<p>{int(summary.stats.get('repos_in', 0))} repositories, "
            f"{int(summary.stats.get('repos_rejected', 0))} rejected as a whole; "
            f"{int(summary.stats.get('commits_scanned', 0))} commits scanned. Rows in = kept + rejected: "
            f"{summary.rows_in} = {summary.kept} + {summary.rejected}.</p>"]
    if kept is not None:
        stats = kept.column("stats")
        lines = [a + r for a, r in zip(pc.struct_field(stats, "added").to_pylist(),
                                       pc.struct_field(stats, "removed").to_pylist(), strict=True)]
        langs = Counter(lang for ls in pc.struct_field(stats, "languages").to_pylist() for lang in ls)
        tenths = [i / 10 for i in range(11)]
        charts += [histogram("Endpoint score", kept.column("score").to_pylist(), tenths),
                   histogram("Start lifecycle percentile", kept.column("start_percentile").to_pylist(), tenths),
                   histogram("Commits per triplet", kept.column("n_commits").to_pylist(),
                             [1, 2, 3, 5, 9, 17, 33, math.inf]),
                   histogram("Changed lines per triplet", lines, [0, 10, 25, 50, 100, 200, 400, math.inf]),
                   histogram("Text tokens per triplet (budget: --max-tokens)",
                             [t or 0 for t in pc.struct_field(stats, "text_tokens").to_pylist()],
                             [0, 1024, 2048, 4096, 8192, 12288, 16384, 32768, math.inf]),
                   bars("Languages (triplets touching)", langs.most_common(12), "#76b7b2")]
    body.append(grid(charts))
    if kept is not None:
        rows = sorted(kept.select(["repo", "start_commit", "end_commit", "score", "messages"]).to_pylist(),
                      key=lambda r: (-r["score"], r["repo"], r["start_commit"]))[:15]
        body.append(section("Best triplets", table(
            ("repo", "start..end", "score", "last message"),
            [(r["repo"], code(f"{r['start_commit'][:10]}..{r['end_commit'][:10]}"), f"{r['score']:.3f}",
              (r["messages"][-1] if r["messages"] else "").split("\n")[0][:120]) for r in rows])))
    path = out.path("_report.html")
    atomic_write_bytes(out.fs, path, page("codeflow triplets", body).encode())
    return path
