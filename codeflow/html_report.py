"""The pieces every stage report is built from: one page shell with one stylesheet, bar charts, histograms, tables.

Each stage writes one HTML file beside its output (``report.html`` or ``_report.html``). The rules they share,
and why:

* Self-contained: CSS inline, charts as inline SVG, no scripts, no fonts or images, no ``http`` anywhere. The
  file opens straight from any lake folder, a CI artifact or an air-gapped machine, and shows the same there.
* Deterministic: the output depends only on the numbers passed in (no clock, no ids, no hash order; floats are
  formatted explicitly). Tests compare report bytes between the local and the Spark engine, so two runs over
  the same data must give the same bytes.
* Safe: every label is data (repo names, commit messages, file paths, parse errors), so everything is escaped
  unless it is wrapped in :class:`Html` by the code that built it.
"""

from __future__ import annotations

import html
import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence

CSS = ("body{font:14px system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}h1{font-size:20px}"
       "h2{font-size:15px;margin:24px 0 6px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:18px}"
       "table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #ddd;padding:3px 8px;"
       "text-align:left;vertical-align:top}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
       "code{font-size:12px}pre{font-size:12px}.muted{color:#777}.tiles{display:flex;flex-wrap:wrap;gap:12px;"
       "margin:12px 0}.tile{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}"
       ".tile b{display:block;font-size:22px}.card{display:inline-block;margin:6px 12px 6px 0;vertical-align:top}")
"""The one stylesheet of every report (inline, so the page needs nothing beside it)."""

BAR_WIDTH, BAR_LABEL_W, BAR_VALUE_W, BAR_ROW = 520, 180, 80, 20
"""Bar chart geometry: total width, label column, room right of the longest bar for its value, row height."""
LABEL_CHARS = 30
"""Longer bar labels are cut (with an ellipsis) so they fit the label column; the full label is the tooltip."""


class Html(str):
    """Markup built by report code: :func:`cell` and the helpers pass it through unescaped."""


def esc(value: object) -> str:
    """Escape anything for HTML text or a quoted attribute (labels are data and may hold ``<script>``)."""
    return html.escape(str(value))


def num(value: object) -> str:
    """A number as the reports print it: integers (and integral floats) with thousands separators, others to
    two decimals, anything else as text. Fixed formats keep the bytes the same across engines."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def code(text: object) -> Html:
    """``text`` escaped inside ``<code>`` (paths, ids, commit ranges, config values)."""
    return Html(f"<code>{esc(text)}</code>")


def none() -> Html:
    """The placeholder for a chart or table with nothing in it."""
    return Html("<p class=muted>none</p>")


def section(title: str, body: str) -> Html:
    """A titled block (``<h2>`` plus body) that sits in a :func:`grid` cell or on its own."""
    return Html(f"<div><h2>{esc(title)}</h2>{body}</div>")


def grid(parts: Iterable[str]) -> Html:
    """Blocks two by two (charts are sized to fit half of the page)."""
    return Html(f"<div class=grid>{''.join(parts)}</div>")


def page(title: str, body: Iterable[str] | str) -> str:
    """The whole document: doctype, charset, title, the one stylesheet, then ``body`` (already HTML)."""
    body = body if isinstance(body, str) else "".join(body)
    return (f"<!doctype html>\n<html><head><meta charset=utf-8><title>{esc(title)}</title><style>{CSS}</style>"
            f"</head><body>\n{body}\n</body></html>\n")


def _items(items: Mapping[str, float] | Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    return list(items.items()) if isinstance(items, Mapping) else list(items)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"


def bar_svg(items: Mapping[str, float] | Iterable[tuple[str, float]], color: str = "#4c78a8",
            fmt: str | None = None, total: float | None = None) -> Html:
    """Horizontal bars as inline SVG, in the order given; :func:`none` when every value is zero.

    The longest bar is ``total`` when given (a funnel drawn against its input), else the largest value, so the
    bars compare with each other at a glance. ``fmt`` formats the value printed after each bar (default
    :func:`num`).
    """
    rows = _items(items)
    if not any(v for _, v in rows):
        return none()
    top = total if total is not None else max(v for _, v in rows)
    top = top if top > 0 else 1
    span = BAR_WIDTH - BAR_LABEL_W - BAR_VALUE_W
    parts = [f'<svg width="{BAR_WIDTH}" height="{BAR_ROW * len(rows)}" role="img" font-size="12">']
    for i, (label, value) in enumerate(rows):
        w = span * max(value, 0) / top
        y = i * BAR_ROW
        text = fmt.format(value) if fmt else num(value)
        parts.append(f'<text x="{BAR_LABEL_W - 6}" y="{y + 14}" text-anchor="end"><title>{esc(label)}</title>'
                     f'{esc(_short(str(label)))}</text>'
                     f'<rect x="{BAR_LABEL_W}" y="{y + 3}" width="{w:.1f}" height="{BAR_ROW - 6}" fill="{color}"/>'
                     f'<text x="{BAR_LABEL_W + w + 4:.1f}" y="{y + 14}">{esc(text)}</text>')
    parts.append("</svg>")
    return Html("".join(parts))


def bars(title: str, items: Mapping[str, float] | Iterable[tuple[str, float]], color: str = "#4c78a8",
         fmt: str | None = None, total: float | None = None) -> Html:
    """A titled horizontal bar chart of ``label -> value`` (see :func:`bar_svg`)."""
    return section(title, bar_svg(items, color, fmt, total))


def bin_label(lo: float, hi: float) -> str:
    """``"25–50"``; an open-ended bin (``hi`` infinite) reads ``"400+"``."""
    return f"{lo:g}+" if math.isinf(hi) else f"{lo:g}–{hi:g}"


def bin_counts(values: Iterable[float], bins: Sequence[float]) -> list[tuple[str, int]]:
    """Count ``values`` into the bins between consecutive ``bins`` edges: ``[lo, hi)``, the last one closed.

    Make the last edge ``math.inf`` for an open-ended last bin (labelled ``"400+"``). Values below the first edge
    or above the last are not dropped: they get a ``"< lo"`` / ``"> hi"`` bin of their own, only when there are
    some, so the counts always sum to the number of values.
    """
    if len(bins) < 2 or any(a >= b for a, b in zip(bins, bins[1:], strict=False)):
        raise ValueError(f"bins must be at least two increasing edges, got {list(bins)}")
    counts = [0] * (len(bins) - 1)
    under = over = 0
    for v in values:
        if v < bins[0]:
            under += 1
        elif v > bins[-1]:
            over += 1
        else:
            counts[min(bisect_right(bins, v) - 1, len(counts) - 1)] += 1
    out = [(bin_label(lo, hi), c) for lo, hi, c in zip(bins, bins[1:], counts, strict=False)]
    if under:
        out.insert(0, (f"< {bins[0]:g}", under))
    if over:
        out.append((f"> {bins[-1]:g}", over))
    return out


def histogram(title: str, values: Iterable[float], bins: Sequence[float], color: str = "#59a14f") -> Html:
    """A titled histogram drawn as horizontal bars, one per bin (see :func:`bin_counts`)."""
    return bars(title, bin_counts(values, bins), color)


def _is_num(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def cell(value: object, tag: str = "td") -> str:
    """One table cell: numbers right-aligned with :func:`num`, :class:`Html` as is, anything else escaped."""
    if isinstance(value, Html):
        return f"<{tag}>{value}</{tag}>"
    if _is_num(value):
        return f"<{tag} class=n>{num(value)}</{tag}>"
    return f"<{tag}>{esc(value)}</{tag}>"


def table(headers: Sequence[object] | None, rows: Iterable[Sequence[object]]) -> Html:
    """A table of ``rows`` (cells as in :func:`cell`); :func:`none` when there are no rows. A header sits right
    over a column of numbers, like the numbers under it."""
    rows = [list(row) for row in rows]
    if not rows:
        return none()
    body = "".join(f"<tr>{''.join(cell(v) for v in row)}</tr>" for row in rows)
    head = "".join(f"<th class=n>{esc(h)}</th>" if i < len(rows[0]) and _is_num(rows[0][i]) else cell(h, "th")
                   for i, h in enumerate(headers or ()))
    return Html(f"<table>{f'<tr>{head}</tr>' if head else ''}{body}</table>")


def kv_table(items: Mapping[object, object] | Iterable[tuple[object, object]],
             headers: tuple[object, object] | None = None) -> Html:
    """A two-column ``key | value`` table in the order given (counts by reason, config, counters)."""
    return table(headers, _items(items))  # type: ignore[arg-type]


def stat_tiles(items: Iterable[tuple[object, str]]) -> Html:
    """The headline numbers as tiles: ``(value, caption)`` pairs, values through :func:`num`."""
    tiles = "".join(f"<div class=tile><b>{esc(num(v))}</b>{esc(caption)}</div>" for v, caption in items)
    return Html(f"<div class=tiles>{tiles}</div>")
