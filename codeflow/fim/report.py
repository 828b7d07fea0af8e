"""Self-contained HTML report of a FIM run: split kinds, levels, fallbacks, middle lengths per language and the
middle-length distribution per split kind (characters and share of the file: the split-hygiene view).

Built from :mod:`codeflow.html_report`: inline SVG only (no scripts, no network assets), so it opens from a lake
folder or a CI artifact, and deterministic. Reads only the small columns of the kept shards (middle lengths are
computed shard by shard with Arrow kernels; prefix and suffix only for their lengths).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import numpy as np
import pyarrow.compute as pc

from codeflow.fim.sample import ALL_KINDS
from codeflow.html_report import Html, esc, kv_table, page, table
from codeflow.lake import StageOutput, atomic_write_bytes

COLORS = {"char": "#4e79a7", "line": "#f28e2b", "ast_expression": "#59a14f", "ast_statement": "#76b7b2",
          "ast_function": "#e15759", "none": "#bab0ac"}
REPORT_NAME = "_report.html"


def collect(out: StageOutput) -> dict:
    """Counts and middle-length samples from the committed shards of a fim output."""
    kinds: Counter = Counter()
    levels: Counter = Counter()
    per_lang: dict[str, Counter] = defaultdict(Counter)
    fallbacks: Counter = Counter()
    mids: dict[str, list[np.ndarray]] = defaultdict(list)
    mids_kind: dict[str, list[np.ndarray]] = defaultdict(list)
    share_kind: dict[str, list[np.ndarray]] = defaultdict(list)
    ctx: list[np.ndarray] = []
    for m in out.committed_markers():
        t = out._read_many([out.kept_path(m["index"])],
                           ["language", "level", "split_kind", "requested_kind", "prefix", "middle", "suffix",
                            "context_paths"])
        if t.num_rows == 0:
            continue
        langs = [lang or "unknown" for lang in t.column("language").to_pylist()]
        kind = t.column("split_kind").to_pylist()
        req = t.column("requested_kind").to_pylist()
        lens = pc.utf8_length(t.column("middle")).to_numpy(zero_copy_only=False)
        file_lens = lens + sum(pc.utf8_length(t.column(c)).to_numpy(zero_copy_only=False)
                               for c in ("prefix", "suffix"))
        shares = lens / np.maximum(file_lens, 1)
        ctx.append(pc.list_value_length(t.column("context_paths")).fill_null(0).to_numpy(zero_copy_only=False))
        levels.update(t.column("level").to_pylist())
        for lang, k, r in zip(langs, kind, req, strict=True):
            kinds[k] += 1
            per_lang[lang][k] += 1
            if k != r:
                fallbacks[f"{r} → {k}"] += 1
        lang_arr, kind_arr = np.array(langs, dtype=object), np.array(kind, dtype=object)
        for lang in set(langs):
            mids[lang].append(lens[(lang_arr == lang) & (kind_arr != "none")])
        for k in set(kind) - {"none"}:
            mids_kind[k].append(lens[kind_arr == k])
            share_kind[k].append(shares[kind_arr == k])
    return {"kinds": kinds, "levels": levels, "per_lang": per_lang, "fallbacks": fallbacks,
            "mids": {k: np.concatenate(v) for k, v in mids.items()},
            "mids_kind": {k: np.concatenate(v) for k, v in mids_kind.items()},
            "share_kind": {k: np.concatenate(v) for k, v in share_kind.items()},
            "context": np.concatenate(ctx) if ctx else np.zeros(0)}


def _bar(counts: Counter, order: list[str], width: int = 560) -> str:
    total = sum(counts.values()) or 1
    x, parts = 0.0, []
    for k in order:
        w = width * counts.get(k, 0) / total
        if w:
            parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="18" fill="{COLORS.get(k, "#999")}">'
                         f"<title>{esc(k)}: {counts[k]}</title></rect>")
        x += w
    return f'<svg width="{width}" height="18" role="img">{"".join(parts)}</svg>'


def _range_bar(lens: np.ndarray, vmax: float, width: int = 260) -> str:
    """p10-p90 band with the median tick, log scale (middle lengths span 1 to thousands of chars)."""
    if lens.size == 0:
        return ""
    p10, p50, p90 = np.percentile(lens, [10, 50, 90])

    def sx(v: float) -> float:
        return width * np.log1p(v) / np.log1p(max(vmax, 1))

    return (f'<svg width="{width}" height="14"><line x1="0" y1="7" x2="{width}" y2="7" stroke="#ddd"/>'
            f'<rect x="{sx(p10):.1f}" y="2" width="{max(1.0, sx(p90) - sx(p10)):.1f}" height="10" fill="#9ecae1">'
            f'<title>p10 {p10:.0f} · p50 {p50:.0f} · p90 {p90:.0f}</title></rect>'
            f'<line x1="{sx(p50):.1f}" y1="0" x2="{sx(p50):.1f}" y2="14" stroke="#08519c" stroke-width="2"/></svg>')


def _hist(lens: np.ndarray, color: str, width: int = 260, height: int = 60, bins: int = 24) -> str:
    if lens.size == 0:
        return ""
    edges = np.logspace(0, np.log10(max(lens.max(), 2) + 1), bins + 1)
    h, _ = np.histogram(lens + 1, bins=edges)
    top = h.max() or 1
    bw = width / bins
    bars = "".join(f'<rect x="{i * bw:.1f}" y="{height - height * c / top:.1f}" width="{bw - 1:.1f}" '
                   f'height="{height * c / top:.1f}" fill="{color}"><title>{edges[i] - 1:.0f}–{edges[i + 1] - 1:.0f}'
                   f' chars: {c}</title></rect>' for i, c in enumerate(h))
    return f'<svg width="{width}" height="{height}">{bars}</svg>'


def kind_distribution(data: dict) -> list[list]:
    """Rows of the per-kind table: kind, n, middle chars p10/p50/p90/p99/max, middle ÷ file p50/p90/max."""
    rows = []
    for k in ALL_KINDS:
        lens = data["mids_kind"].get(k)
        if lens is None or not lens.size:
            continue
        share = data["share_kind"][k]
        p = np.percentile(lens, [10, 50, 90, 99])
        q = np.percentile(share, [50, 90])
        rows.append([k, int(lens.size), *(round(float(v)) for v in p), int(lens.max()),
                     *(round(float(v), 2) for v in q), round(float(share.max()), 2)])
    return rows


def render(data: dict, title: str, stats: dict | None = None) -> str:
    """The report page for :func:`collect`'s data; ``stats`` (the run counters) are printed as they are."""
    kinds, per_lang = data["kinds"], data["per_lang"]
    total = sum(kinds.values())
    vmax = max((float(v.max()) for v in data["mids"].values() if v.size), default=1.0)
    legend = " ".join(f'<span style="background:{COLORS[k]};padding:0 6px;color:#fff">{k}</span>' for k in ALL_KINDS)
    rows = []
    for lang in sorted(per_lang, key=lambda lang_: (-sum(per_lang[lang_].values()), lang_)):
        c = per_lang[lang]
        lens = data["mids"].get(lang, np.zeros(0))
        rows.append([lang, sum(c.values()), *(c.get(k, 0) for k in ALL_KINDS), Html(_bar(c, list(ALL_KINDS), 160)),
                     round(float(np.median(lens))) if lens.size else "–", Html(_range_bar(lens, vmax, 200))])
    per_lang_table = table(["language", "samples", *ALL_KINDS, "mix", "median middle (chars)",
                            "middle length p10–p90 (log)"], rows)
    kind_hists = "".join(f"<div class=card><b>{k}</b> (n={data['mids_kind'][k].size}, median "
                         f"{np.median(data['mids_kind'][k]):.0f})<br>{_hist(data['mids_kind'][k], COLORS[k])}</div>"
                         for k in ALL_KINDS if k in data["mids_kind"] and data["mids_kind"][k].size)
    ctx = data["context"]
    ctx_html = (f"<p>context files per sample: mean {ctx.mean():.1f}, max {int(ctx.max())}</p>"
                f"{_hist(ctx, '#7f7f7f')}" if ctx.size and ctx.max() > 0 else "<p>file level: no context</p>")
    stats_html = f"<pre>{esc(json.dumps(stats, indent=1, sort_keys=True))}</pre>" if stats else ""
    return page(title, f"""<h1>{esc(title)}</h1>
<p>{total} samples · levels: {esc(", ".join(f"{k}={v}" for k, v in sorted(data["levels"].items())))}</p>
<h2>Split kinds</h2><p>{legend}</p>{_bar(kinds, list(ALL_KINDS))}
<p>{esc(", ".join(f"{k}={kinds.get(k, 0)}" for k in ALL_KINDS))}</p>
<h2>Per language</h2>{per_lang_table}
<h2>Middle length by split kind</h2>
<p>Characters, and the middle's share of its file. Hygiene rules (docs/fim.md): char middles ≤ min(2,000, 25% of
the file) by default, AST middles ≤ half the file.</p>
{table(["kind", "n", "p10", "p50", "p90", "p99", "max", "÷ file p50", "÷ file p90", "÷ file max"],
       kind_distribution(data))}
<h3>Histograms (chars, log bins)</h3>{kind_hists}
<h2>Fallbacks (asked → applied)</h2>{kv_table(data["fallbacks"].most_common())}
<h2>Repo context</h2>{ctx_html}
<h2>Run counters</h2>{stats_html}""")


def write_report(out_url: str, stats: dict | None = None) -> str:
    """Write ``_report.html`` into the fim output folder; returns its path."""
    out = StageOutput(out_url)
    text = render(collect(out), f"codeflow fim report: {out_url}", stats)
    path = out.path(REPORT_NAME)
    atomic_write_bytes(out.fs, path, text.encode("utf-8"))
    return path
