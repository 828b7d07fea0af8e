"""``codeflow classifiers train`` and ``eval``: fit the proxy and the fastText baseline on one seeded split, judge
both on the held-out part with the same metrics, write the model directory with its card and report.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict

import numpy as np

from codeflow import __version__
from codeflow.classifiers import fasttext_model, proxy
from codeflow.classifiers.encoder import DEFAULT_ENCODER, Chunking, encoder, encoder_hash, resolve_encoder
from codeflow.classifiers.labels import LabelSet, Task, infer_task, split
from codeflow.classifiers.metrics import evaluate
from codeflow.classifiers.modeldir import FORMAT, FORMAT_VERSION, MODEL_JSON, QualityModel, read_meta
from codeflow.classifiers.report import model_card, write_report
from codeflow.classifiers.rubrics import DOMAINS
from codeflow.errors import CodeflowError


def train_models(labels: LabelSet, dimension: str, out_dir: str, domain: str = "text", seed: int = 0,
                 test_fraction: float = 0.2, encoder_spec: str = DEFAULT_ENCODER, threads: int = 1,
                 threshold: float | None = None, chunking: Chunking = Chunking(), overwrite: bool = False) -> dict:
    """Train both models on ``labels`` and write ``out_dir``; returns the model.json dict."""
    if domain not in DOMAINS:
        raise CodeflowError(f"unknown domain {domain!r}; choose from {', '.join(DOMAINS)}")
    if os.path.exists(out_dir) and os.listdir(out_dir):
        if not os.path.isfile(os.path.join(out_dir, MODEL_JSON)):
            raise CodeflowError(f"{out_dir} exists and is not a model directory: refusing to write into it")
        if not overwrite:
            raise CodeflowError(f"{out_dir} already holds a model; pass --overwrite to replace it")
    task = infer_task(labels.labels, threshold)
    buckets = task.bucket(labels.labels)
    train_idx, test_idx = split(labels.texts, buckets, seed, test_fraction)
    if len(test_idx) == 0 or len(set(buckets[train_idx].tolist())) < 2:
        raise CodeflowError(f"too few labelled rows ({len(labels.texts)}) for a train/test split with two classes")
    texts = labels.texts
    folder = resolve_encoder(encoder_spec)
    enc = encoder(encoder_spec, threads)

    t0 = time.perf_counter()
    chunks = enc.embed_chunks(texts, chunking)
    embed_s = time.perf_counter() - t0
    tr_labels = [labels.labels[i] for i in train_idx]
    te_labels = [labels.labels[i] for i in test_idx]
    head = proxy.train(chunks.subset(train_idx), [texts[i] for i in train_idx], tr_labels, task, chunking.max_chunks)
    chunking = Chunking(chunking.window, head.max_chunks)  # what inference reads: the prefix the head chose
    ft = fasttext_model.train([texts[i] for i in train_idx], buckets[train_idx], seed)

    p_scores, p_pred = head.predict(chunks.subset(test_idx), [texts[i] for i in test_idx], task)
    f_scores, f_pred = fasttext_model.predict(ft, [texts[i] for i in test_idx], task)
    metrics = {"proxy": evaluate(task, p_scores, te_labels, p_pred),
               "fasttext": evaluate(task, f_scores, te_labels, f_pred)}

    os.makedirs(out_dir, exist_ok=True)
    for name in os.listdir(out_dir):  # only files this function writes (checked above: a model directory)
        if name in (MODEL_JSON, proxy.FILE, fasttext_model.FILE, "MODEL_CARD.md", "report.html"):
            os.remove(os.path.join(out_dir, name))
    head.save(out_dir)
    ft.save_model(os.path.join(out_dir, fasttext_model.FILE))
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "codeflow_version": __version__,
        "dimension": dimension, "domain": domain, "task": task.to_json(),
        "encoder": {"spec": encoder_spec, "folder": os.path.basename(os.path.dirname(folder)) or folder,
                    "hash": encoder_hash(folder), "dim": enc.dim, "threads": threads},
        "chunking": asdict(chunking),
        "proxy": {"head": head.kind, "max_chunks": head.max_chunks, "length_feature": head.use_length,
                  "members": [{"layer": int(layer), "max_chunks": int(k), "length_feature": bool(u),
                               "regularization": float(r)}
                              for layer, k, u, r in zip(head.layers, head.chunks, head.length, head.regs,
                                                        strict=True)],
                  "selection": [{"layer": layer, "max_chunks": k, "length_feature": u, "regularization": r,
                                 "cv_loss": loss} for layer, k, u, r, loss in head.selection],
                  "selection_loss": "leave-one-out MSE" if head.kind == "ridge" else "3-fold log loss"},
        "fasttext": {**fasttext_model.PARAMS, "seed": seed, "lr": float(ft.f.getArgs().lr)},
        "data": {"file": os.path.basename(labels.source), "sha256": labels.sha256, "rows": len(texts),
                 "dropped": labels.dropped, "text_column": labels.text_column, "label_column": labels.label_column,
                 "class_counts": {task.classes[b]: int(c) for b, c in enumerate(np.bincount(buckets,
                                                                                       minlength=len(task.classes)))
                                  if c}},
        "split": {"seed": seed, "test_fraction": test_fraction, "train": int(len(train_idx)),
                  "test": int(len(test_idx)), "method": "stratified by bucket, hash(seed, text) order"},
        "metrics": metrics,
        "timing": {"embed_s": round(embed_s, 2), "machine": platform.machine()},
    }
    with open(os.path.join(out_dir, MODEL_JSON), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    with open(os.path.join(out_dir, "MODEL_CARD.md"), "w") as f:
        f.write(model_card(meta))
    write_report(os.path.join(out_dir, "report.html"), f"Quality model: {dimension} ({domain})", meta, metrics,
                 "held-out split")
    return meta


def evaluate_dir(model_dir: str, labels: LabelSet, threads: int = 1) -> dict:
    """Proxy and fastText metrics of ``model_dir`` on every row of ``labels`` (read with the model's task)."""
    read_meta(model_dir)
    model = QualityModel.load(model_dir)
    task = model.task
    if task.kind == "class":
        unknown = sorted({str(v) for v in labels.labels} - set(task.classes))
        if unknown:
            raise CodeflowError(f"labels {unknown} are not classes of this model ({', '.join(task.classes)})")
    elif not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in labels.labels):
        raise CodeflowError(f"this model scores numbers ({task.kind}, {task.lo:g}..{task.hi:g}); the label column "
                            f"{labels.label_column!r} holds text")
    if not labels.texts:
        raise CodeflowError("no labelled rows to evaluate on")
    out = {"model": model_dir, "dimension": model.dimension, "labels": labels.source, "rows": len(labels.texts)}
    for scorer in ("proxy", "fasttext"):
        scores, pred = model.score(labels.texts, scorer, threads)
        out[scorer] = evaluate(task, scores, labels.labels, pred)
    return out


__all__ = ["Task", "evaluate_dir", "train_models"]
