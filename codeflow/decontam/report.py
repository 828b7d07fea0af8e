"""The decontamination report: ``OUT/decontamination.json`` (everything) and ``OUT/decontamination.html`` (from it).

A global step over the committed output: the matches come from the rejects' details (``remove``) or the
``contamination`` column (``annotate``), the matched records' text from the input units (``remove``: the reject's
``source`` is ``unit#row``) or the kept shards. The JSON holds every number and snippet the page shows, so
``codeflow decontaminate --report-only`` re-renders the page without the lake's input or the index.

What a reader gets: per benchmark, tasks contaminated / total and records by matcher; per contaminated task,
up to ``EXAMPLES`` records with the overlapping span highlighted beside the benchmark text; per matcher, the
distribution of best scores of every record that overlapped at all, with the threshold marked, so the effect of
another threshold can be read off.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from urllib.parse import unquote

from codeflow.decontam.index import MATCHERS, DecontamIndex
from codeflow.decontam.stage import SCORE_BIN, resolve_text_column
from codeflow.html_report import Html, bars, esc, grid, kv_table, page, section, stat_tiles, table
from codeflow.lake import StageOutput, atomic_write_bytes, atomic_write_json

JSON_NAME, HTML_NAME = "decontamination.json", "decontamination.html"
EXAMPLES = 3          # records shown per task
MAX_TASKS = 200       # tasks shown with examples (all are counted)
CONTEXT = 240         # characters of record context around a match
MAX_SHOWN = 2400      # longest match / benchmark text shown
_FIELD = re.compile(r"(\w+)=(\S+)")


def parse_detail(detail: str) -> list[dict]:
    """The matches of a ``contaminated`` reject's detail (see :class:`codeflow.decontam.stage.Match`)."""
    out = []
    for part in detail.split(" | "):
        kv = dict(_FIELD.findall(part))
        if "benchmark" not in kv:
            continue
        start, end = (int(x) for x in kv["span"].split("-"))
        istart, iend = (int(x) for x in kv["item_span"].split("-"))
        out.append({"benchmark": kv["benchmark"], "task_id": unquote(kv["task"]), "matcher": kv["matcher"],
                    "score": float(kv["overlap"]), "field": kv["field"], "start": start, "end": end,
                    "item_start": istart, "item_end": iend})
    return out


def _records(out: StageOutput, mode: str, text_column: str | None) -> list[tuple[str, str, list[dict], str]]:
    """``(record id, source, matches, text)`` of every contaminated record, in shard order."""
    from codeflow.sources import read_table_file

    recs = []
    if mode == "remove":
        rej = out.read_rejects()
        rows = [r for r in rej.to_pylist() if r["reason"] == "contaminated"]
        by_unit: dict[str, list[int]] = defaultdict(list)
        for r in rows:
            unit, _, row = r["source"].rpartition("#")
            by_unit[unit].append(int(row))
        texts: dict[tuple[str, int], str] = {}
        for unit, idx in by_unit.items():
            t = read_table_file(unit)
            col = resolve_text_column(t.column_names, text_column)
            values = t.column(col).take(idx).to_pylist()
            texts.update({(unit, i): v for i, v in zip(idx, values, strict=True)})
        for r in rows:
            unit, _, row = r["source"].rpartition("#")
            recs.append((r["id"], r["source"], parse_detail(r["detail"] or ""), texts.get((unit, int(row))) or ""))
    else:
        for m in out.committed_markers():
            t = out._read_many([out.kept_path(m["index"])], None)
            if t.num_rows == 0:
                continue
            col = resolve_text_column(t.column_names, text_column)
            ids = t.column("id").to_pylist() if "id" in t.column_names else [None] * t.num_rows
            for i, (rid, text, ann) in enumerate(zip(ids, t.column(col).to_pylist(),
                                                     t.column("contamination").to_pylist(), strict=True)):
                if ann:
                    recs.append((rid or f"{m['unit']}#{i}", f"{m['unit']}#{i}", ann, text or ""))
    return recs


def _snippet(text: str, start: int, end: int, context: int) -> dict:
    end = max(end, start)
    shown_end = min(end, start + MAX_SHOWN)
    return {"before": text[max(0, start - context):start], "match": text[start:shown_end],
            "after": text[shown_end:shown_end + context], "cut_before": start - context > 0,
            "cut_after": shown_end + context < len(text), "truncated": shown_end < end}


def collect(out_url: str, index: DecontamIndex, mode: str, units: list[str], stats: dict,
            text_column: str | None = None) -> dict:
    out = StageOutput(out_url)
    seg_of = {(index.items[int(index.seg_item[s])][0], index.items[int(index.seg_item[s])][1], index.seg_field[s]): s
              for s in range(len(index.seg_text))}
    tasks: dict[tuple[str, str], dict] = {}
    per_bench: dict[str, Counter] = defaultdict(Counter)
    for rid, source, matches, text in _records(out, mode, text_column):
        benches = {m["benchmark"] for m in matches}
        for b in benches:
            per_bench[b]["records"] += 1
            for name in {m["matcher"] for m in matches if m["benchmark"] == b}:
                per_bench[b][f"records_{name}"] += 1
        seen_tasks = set()
        for m in matches:
            key = (m["benchmark"], m["task_id"])
            task = tasks.setdefault(key, {"benchmark": key[0], "task_id": key[1], "records": 0,
                                          "matchers": Counter(), "examples": []})
            task["matchers"][m["matcher"]] += 1
            if key in seen_tasks:
                continue
            seen_tasks.add(key)
            task["records"] += 1
            if len(task["examples"]) < EXAMPLES:
                best = max((x for x in matches if (x["benchmark"], x["task_id"]) == key),
                           key=lambda x: (x["score"], -MATCHERS.index(x["matcher"])))
                seg = seg_of.get((key[0], key[1], best["field"]))
                item_text = index.seg_text[seg] if seg is not None else ""
                task["examples"].append({
                    "record_id": rid, "source": source, "matcher": best["matcher"], "score": best["score"],
                    "field": best["field"], "all": sorted(f"{x['matcher']}={x['score']:.2f}" for x in matches
                                                          if (x["benchmark"], x["task_id"]) == key),
                    "record": _snippet(text, best["start"], best["end"], CONTEXT),
                    "item": _snippet(item_text, best["item_start"], best["item_end"], len(item_text))})
    benchmarks = []
    for b in index.benchmarks:
        c = per_bench.get(b["name"], Counter())
        n_tasks = sum(1 for k in tasks if k[0] == b["name"])
        benchmarks.append({**b, "tasks_contaminated": n_tasks, "records": c["records"],
                           "by_matcher": {m: c[f"records_{m}"] for m in MATCHERS if m in index.config.matchers}})
    hist = {m: {k.rsplit("_", 1)[1]: int(v) for k, v in sorted(stats.items()) if k.startswith(f"score_{m}_")}
            for m in MATCHERS if m in index.config.matchers and m != "substring"}
    task_list = sorted(tasks.values(), key=lambda t: (-t["records"], t["benchmark"], t["task_id"]))
    for t in task_list:
        t["matchers"] = dict(sorted(t["matchers"].items()))
    cfg = index.config
    return {"output": out_url, "mode": mode, "units": len(units), "index_hash": index.content_hash,
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg).items()},
            "thresholds": {m: cfg.threshold(m) for m in MATCHERS if m in cfg.matchers},
            "totals": {"rows_in": int(stats.get("rows_in", 0)), "contaminated": int(stats.get("contaminated", 0)),
                       "null_text": int(stats.get("null_text", 0)),
                       "by_matcher": {m: int(stats.get(f"records_{m}", 0)) for m in MATCHERS if m in cfg.matchers}},
            "benchmarks": benchmarks, "histograms": hist, "tasks": task_list[:MAX_TASKS],
            "tasks_total": len(task_list)}


def _hl(snip: dict) -> Html:
    more = "<span class=muted>…</span>"
    return Html(f"<pre style='white-space:pre-wrap;max-height:420px;overflow:auto'>"
                f"{more if snip['cut_before'] else ''}{esc(snip['before'])}<mark>{esc(snip['match'])}</mark>"
                f"{more if snip['truncated'] else ''}{esc(snip['after'])}{more if snip['cut_after'] else ''}</pre>")


def _hist_rows(counts: dict[str, int], threshold: float) -> list[tuple[str, int]]:
    rows = []
    for lo in sorted(counts, key=float):
        hi = float(lo) + SCORE_BIN
        mark = "  ◀ threshold" if float(lo) - 1e-9 <= threshold < hi - 1e-9 else ""
        label = "1.00" if float(lo) >= 1.0 else f"{lo}–{hi:.2f}"
        rows.append((f"{label}{mark}", counts[lo]))
    return rows


def render(data: dict) -> str:
    """The page; only ``data`` (as read back from the JSON) decides it, so --report-only gives the same bytes."""
    t = data["totals"]
    matchers = [m for m in MATCHERS if m in data["thresholds"]]
    parts = [f"<h1>Benchmark decontamination: {esc(data['output'])}</h1>",
             f"<p class=muted>mode <code>{esc(data['mode'])}</code> · index <code>{esc(data['index_hash'])}</code> · "
             f"{data['units']} input shards</p>",
             stat_tiles([(t["rows_in"], "records in"), (t["contaminated"], "contaminated"),
                         (data["tasks_total"], "benchmark tasks hit"), (t["null_text"], "null text")])]
    rows = []
    for b in data["benchmarks"]:
        rows.append([b["name"], f"{b['tasks_contaminated']} / {b['items']}", b["records"],
                     *(b["by_matcher"].get(m, 0) for m in matchers), b["short_segments"], b["license"]])
    parts.append(section("Per benchmark", table(["benchmark", "tasks contaminated / total", "records",
                                                  *(f"by {m}" for m in matchers),
                                                  "fields shorter than n (exact substring only)", "licence"], rows)))
    parts.append(grid([bars("Records matched, by matcher", [(m, t["by_matcher"].get(m, 0)) for m in matchers]),
                       bars("Contaminated records, by benchmark", [(b["name"], b["records"])
                                                                   for b in data["benchmarks"]], color="#e15759")]))
    hists = [bars(f"{m}: best score per record with any overlap (threshold {data['thresholds'][m]:g})",
                  _hist_rows(data["histograms"][m], data["thresholds"][m]), color="#f28e2b")
             for m in matchers if m in data["histograms"]]
    if hists:
        parts.append("<h2>Score distributions around the thresholds</h2><p class=muted>Records at or above the "
                     "marked bin are matches; the bins just below show what a lower threshold would add.</p>")
        parts.append(grid(hists))
    shown = f", first {len(data['tasks'])} shown" if data["tasks_total"] > len(data["tasks"]) else ""
    parts.append(f"<h2>Contaminated tasks ({data['tasks_total']}{shown})</h2>")
    for task in data["tasks"]:
        matchers = ", ".join(f"{k}={v}" for k, v in task["matchers"].items())
        parts.append(f"<h2>{esc(task['benchmark'])} · {esc(task['task_id'])} — {task['records']} record(s) "
                     f"<span class=muted>({esc(matchers)})</span></h2>")
        for ex in task["examples"]:
            head = (f"<p><code>{esc(ex['record_id'])}</code> <span class=muted>{esc(ex['source'])}</span> · "
                    f"<b>{esc(ex['matcher'])}</b> {ex['score']:.3f} on <code>{esc(ex['field'])}</code> · "
                    f"all: {esc(', '.join(ex['all']))}</p>")
            parts.append(head + grid([section("record (match highlighted)", _hl(ex["record"])),
                                      section(f"benchmark {ex['field']}", _hl(ex["item"]))]))
    parts.append(section("Matcher settings", kv_table((k, json.dumps(v)) for k, v in data["config"].items())))
    return page("codeflow decontamination report", parts)


def write_json_and_html(out_url: str, data: dict) -> str:
    out = StageOutput(out_url)
    data = json.loads(json.dumps(data, sort_keys=True))  # render exactly what --report-only will read back
    atomic_write_json(out.fs, out.path(JSON_NAME), data)
    path = out.path(HTML_NAME)
    atomic_write_bytes(out.fs, path, render(data).encode("utf-8"))
    return path


def write_report(out_url: str, index: DecontamIndex, mode: str, units: list[str], stats: dict,
                 text_column: str | None = None) -> str:
    """Write ``decontamination.json`` and ``.html`` into the output folder; returns the HTML path."""
    return write_json_and_html(out_url, collect(out_url, index, mode, units, stats, text_column))


def rerender(out_url: str) -> str:
    """``--report-only``: the HTML again from ``decontamination.json``."""
    out = StageOutput(out_url)
    path = out.path(JSON_NAME)
    if not out.fs.exists(path):
        from codeflow.errors import CodeflowError

        raise CodeflowError(f"{path} does not exist: run codeflow decontaminate first")
    with out.fs.open(path, "rb") as f:
        data = json.load(f)
    html_path = out.path(HTML_NAME)
    atomic_write_bytes(out.fs, html_path, render(data).encode("utf-8"))
    return html_path
