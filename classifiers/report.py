"""The model card (Markdown) and the HTML report of a model directory: the proxy and fastText side by side.

The report is built from :mod:`codeflow.html_report` (self-contained, deterministic): headline metrics, precision
and recall at the keep threshold, one confusion matrix per model, and the calibration of each (mean label per
predicted-score bin, drawn as bars against the bin's mean score).
"""

from __future__ import annotations

from codeflow.html_report import Html, bars, code, esc, grid, kv_table, page, section, stat_tiles, table

MODELS = ("proxy", "fasttext")
NAMES = {"proxy": "proxy (MiniLM + head)", "fasttext": "fastText baseline"}


def _v(x: object) -> object:
    return "–" if x is None else x


def headline_rows(metrics: dict) -> list[list[object]]:
    rows = []
    for key, label in (("spearman", "Spearman"), ("macro_f1", "macro-F1"), ("accuracy", "accuracy"),
                       ("mae", "MAE")):
        rows.append([label] + [_v(metrics[m].get(key)) for m in MODELS])
    for key in ("precision", "recall", "f1"):
        rows.append([f"{key} at threshold"] + [_v((metrics[m].get("at_threshold") or {}).get(key)) for m in MODELS])
    rows.append(["calibration error (ECE)"] + [_v((metrics[m].get("calibration") or {}).get("ece")) for m in MODELS])
    return rows


def _confusion(title: str, conf: dict) -> Html:
    classes = conf["classes"]
    rows = [[f"true {c}"] + list(r) for c, r in zip(classes, conf["matrix"], strict=True) if any(r)]
    return section(title, table(["", *[f"pred {c}" for c in classes]], rows))


def _calibration(title: str, cal: dict | None) -> Html:
    if not cal:
        return section(title, Html("<p class=muted>not defined for this task</p>"))
    items = [(f"{b['lo']:g}–{b['hi']:g} (n={b['n']}, score {b['mean_score']:.2f})", b["mean_label"])
             for b in cal["bins"]]
    return bars(title + ": mean label per predicted-score bin", items, fmt="{:.2f}")


def _head_summary(proxy: dict) -> str:
    members = proxy["members"]
    with_length = sum(m["length_feature"] for m in members)
    return (f"{proxy['head']} head averaging {len(members)} per-layer members (layers "
            f"{', '.join(str(m['layer']) for m in members)}; chunks pooled "
            f"{', '.join(str(m['max_chunks']) for m in members)}; length feature in {with_length} of "
            f"{len(members)})")


def write_report(path: str, title: str, meta: dict, metrics: dict, what: str) -> None:
    """Write the side-by-side report for ``metrics`` (``{"proxy": …, "fasttext": …}``) to ``path``."""
    task = meta["task"]
    split = meta.get("split", {})
    tiles = stat_tiles([(meta["data"]["rows"], "labelled rows"), (split.get("train", 0), "train"),
                        (split.get("test", 0), "held out"),
                        (_v(metrics["proxy"].get("spearman")), "proxy Spearman"),
                        (_v(metrics["fasttext"].get("spearman")), "fastText Spearman")])
    head = section(f"Proxy vs fastText on the {what}", table(["metric", NAMES["proxy"], NAMES["fasttext"]],
                                                          headline_rows(metrics)))
    facts = kv_table([("dimension", meta["dimension"]), ("domain", meta["domain"]), ("task", task["kind"]),
                      ("classes", ", ".join(task["classes"])), ("keep threshold", task["threshold"]),
                      ("labels", code(meta["data"]["file"])), ("encoder", code(meta["encoder"]["spec"])),
                      ("chunking", f"{meta['chunking']['window']} word pieces x {meta['chunking']['max_chunks']} max"),
                      ("proxy head", _head_summary(meta["proxy"])),
                      ("split", f"seed {split.get('seed')}, {split.get('test_fraction')} held out")])
    chosen = {(m["layer"], m["max_chunks"], m["length_feature"]) for m in meta["proxy"]["members"]}
    tried = section(f"Proxy features chosen on the training split, one member per encoder layer "
                    f"({meta['proxy']['selection_loss']}, lowest wins per layer)",
                    table(["layer", "chunks pooled", "length feature", "regularization", "held-out loss", ""],
                          [(c["layer"], c["max_chunks"], "yes" if c["length_feature"] else "no",
                            f"{c['regularization']:g}", f"{c['cv_loss']:.4f}",
                            "chosen" if (c["layer"], c["max_chunks"], c["length_feature"]) in chosen else "")
                           for c in meta["proxy"]["selection"]]))
    parts = [f"<h1>{esc(title)}</h1>", tiles, head, section("Model", facts), tried,
             grid([_confusion(f"Confusion: {NAMES[m]}", metrics[m]["confusion"]) for m in MODELS]),
             grid([_calibration(NAMES[m], metrics[m].get("calibration")) for m in MODELS])]
    with open(path, "w", encoding="utf-8") as f:
        f.write(page(title, parts))


def model_card(meta: dict) -> str:
    """A Markdown card: what the model scores, the data and split it was trained on, and its held-out metrics."""
    d, s, t, m = meta["data"], meta["split"], meta["task"], meta["metrics"]
    lines = [f"# Quality model: {meta['dimension']} ({meta['domain']})", "",
             f"Written by codeflow {meta['codeflow_version']} (model format {meta['format_version']}).", "",
             "## What it scores", "",
             f"- task: {t['kind']}, classes {', '.join(t['classes'])}, score range {t['lo']:g}..{t['hi']:g}, "
             f"keep threshold {t['threshold']:g}",
             f"- proxy: frozen `{meta['encoder']['spec']}` embeddings (sha256 {meta['encoder']['hash'][:16]}…), "
             f"texts chunked into {meta['chunking']['window']}-word-piece windows (at most "
             f"{meta['chunking']['max_chunks']}), every layer's token states mean-pooled; "
             f"{_head_summary(meta['proxy'])} (each member's chunk count, length feature and regularization picked "
             f"by {meta['proxy']['selection_loss']} on the training split)",
             f"- baseline: fastText supervised on the buckets, {meta['fasttext']}", "",
             "## Data and split", "",
             f"- labels: `{d['file']}` (sha256 {d['sha256'][:16]}…), text column `{d['text_column']}`, label column "
             f"`{d['label_column']}`; {d['rows']} rows used, {d['dropped']} dropped (empty text or null label)",
             f"- class counts: {', '.join(f'{k}: {v}' for k, v in d['class_counts'].items())}",
             f"- split: {s['method']}, seed {s['seed']}: {s['train']} train, {s['test']} held out", "",
             "## Held-out metrics", "", "| metric | proxy | fastText |", "|---|---|---|"]
    for row in headline_rows(m):
        lines.append("| " + " | ".join(str(x) for x in row) + " |")
    lines += ["", "Not validated on other domains or languages than the labels above; check with "
              "`codeflow classifiers eval --model DIR --labels YOUR_FILE` before trusting it on your data.", ""]
    return "\n".join(lines)


def write_classify_report(summary, config, model_hashes: tuple[str, ...]) -> str:
    """``_report.html`` beside ``classify`` output: rejects by reason, domains, score histograms of kept rows."""
    from codeflow.html_report import histogram
    from codeflow.lake import StageOutput, atomic_write_bytes, to_fs

    out = StageOutput(summary.out)
    kept = out.read_kept(["quality", "quality_score"])
    quality = kept.column("quality").to_pylist()
    domains = sorted(((k.removeprefix("domain_"), v) for k, v in summary.stats.items() if k.startswith("domain_")))
    charts = [section("Rejects by reason", kv_table(sorted(summary.reasons.items()))),
              bars("Records by domain", domains)]
    q = [v for v in kept.column("quality_score").to_pylist() if v is not None]
    charts.append(histogram("quality_score of kept records", q, [i / 10 for i in range(11)]))
    for dim in config.dimensions:
        vals = [r[dim] for r in quality if r and r.get(dim) is not None]
        edges = [i / 10 for i in range(11)] if all(v <= 1 for v in vals) else [0, 0.5, 1.5, 2.5, 3.5, 4.5, 5]
        charts.append(histogram(f"{dim} of kept records", vals, edges))
    models = table(["model", "content hash"], [(code(m), code(h)) for m, h in zip(config.models, model_hashes,
                                                                                   strict=True)])
    body = [f"<h1>{esc('Quality classification')}</h1>",
            stat_tiles([(summary.rows_in, "records in"), (summary.kept, "kept"), (summary.rejected, "rejected")]),
            section("Models", models), section("Keep rules", table(["rule"], [[r] for r in config.keep])),
            grid(charts)]
    fs, root = to_fs(summary.out)
    path = f"{root}/_report.html"
    atomic_write_bytes(fs, path, page("codeflow classify", body).encode())
    return path
