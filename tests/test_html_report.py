"""The shared report pieces: hostile labels are escaped, bars scale to the largest value, histogram bins count
every value once, and a page needs nothing outside itself."""

from __future__ import annotations

import math
import re

import pytest

from codeflow.html_report import Html, bars, bin_counts, code, histogram, kv_table, page, section, stat_tiles, table

HOSTILE = '<script>alert("x")</script>&'


def _bar_widths(svg: str) -> list[float]:
    return [float(w) for w in re.findall(r'<rect [^>]*width="([0-9.]+)"', svg)]


def test_hostile_labels_are_escaped_everywhere() -> None:
    parts = [bars(HOSTILE, {HOSTILE: 3}), histogram(HOSTILE, [1, 2], [0, 10]), kv_table({HOSTILE: HOSTILE}),
             table([HOSTILE], [[HOSTILE]]), stat_tiles([(1, HOSTILE)]), code(HOSTILE), section(HOSTILE, "")]
    out = page(HOSTILE, parts)
    assert "<script" not in out.lower() and "&lt;script&gt;" in out
    assert "&amp;" in out and "&quot;x&quot;" in out


def test_html_values_pass_through_and_numbers_are_right_aligned() -> None:
    out = table(["a", "n"], [(Html("<b>x</b>"), 1234567), ("<b>", 2.5)])
    assert "<td><b>x</b></td>" in out and "<td class=n>1,234,567</td>" in out
    assert "<td>&lt;b&gt;</td>" in out and "<td class=n>2.50</td>" in out
    assert "<th>a</th><th class=n>n</th>" in out  # a header over numbers sits right, like them


def test_bars_scale_to_the_largest_value() -> None:
    widths = _bar_widths(bars("t", [("a", 10), ("b", 40), ("c", 20), ("d", 0)]))
    assert len(widths) == 4 and max(widths) == widths[1]
    assert widths[0] == pytest.approx(widths[1] / 4, abs=0.1) and widths[2] == pytest.approx(widths[1] / 2, abs=0.1)
    assert widths[3] == 0


def test_bars_against_a_total_and_empty_bars() -> None:
    full = _bar_widths(bars("t", {"x": 1}))[0]
    assert _bar_widths(bars("t", {"x": 25}, total=100))[0] == pytest.approx(full / 4, abs=0.1)
    assert "none" in bars("t", {}) and "none" in bars("t", {"a": 0}) and "<svg" not in bars("t", [])


def test_values_are_printed_with_the_given_format() -> None:
    assert ">1,234<" in bars("t", {"a": 1234}) and ">1.5<" in bars("t", {"a": 1.5}, fmt="{:,.1f}")


def test_long_labels_are_cut_but_kept_as_the_tooltip() -> None:
    label = "x" * 80
    out = bars("t", {label: 1})
    assert f"<title>{label}</title>" in out and ">" + "x" * 29 + "…<" in out


@pytest.mark.parametrize("values", [[], [0, 0.5, 1], [0.1 * i for i in range(11)], [3, 7, 10, 10, 12, 1e12]])
def test_histogram_counts_every_value_once(values: list[float]) -> None:
    counts = bin_counts(values, [0, 0.5, 1, 10])
    assert sum(c for _, c in counts) == len(values)


def test_histogram_bins_are_half_open_and_the_last_is_closed() -> None:
    assert bin_counts([0, 0.99, 1, 2, 2], [0, 1, 2]) == [("0–1", 2), ("1–2", 3)]
    assert bin_counts([0.9, 1.0], [i / 10 for i in range(11)])[-1] == ("0.9–1", 2)


def test_histogram_open_ended_last_bin_reads_plus() -> None:
    counts = bin_counts([5, 450, 10**9], [0, 10, 400, math.inf])
    assert counts == [("0–10", 1), ("10–400", 0), ("400+", 2)]
    out = histogram("lines", [5, 450], [0, 400, math.inf])
    assert "400+" in out and "e+" not in out and "inf" not in out


def test_histogram_values_outside_the_edges_get_their_own_bins() -> None:
    assert bin_counts([-1, 0.5, 3], [0, 1, 2]) == [("< 0", 1), ("0–1", 1), ("1–2", 0), ("> 2", 1)]
    with pytest.raises(ValueError):
        bin_counts([1], [2, 1])


def test_page_is_self_contained_and_deterministic() -> None:
    def build() -> str:
        return page("report", [stat_tiles([(1234, "rows")]), bars("b", {"a": 1, "b": 2}),
                               histogram("h", [1, 2, 3], [0, 2, math.inf]), kv_table({"k": 1}, ("key", "n"))])

    out = build()
    assert out == build()
    assert out.startswith("<!doctype html>") and "<style>" in out and out.endswith("</html>\n")
    assert "http" not in out and "<script" not in out and "src=" not in out and "@import" not in out
    assert "1,234" in out
