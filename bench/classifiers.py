"""Proxy (frozen all-MiniLM-L6-v2 + head) against the fastText baseline on every real labelled set we ship.

Anchor: fastText supervised on the same folds, the baseline of DCLM and FineWeb-Edu. For each set the script
embeds every text once (the encoder is frozen, so folds can share embeddings), then runs repeated stratified
5-fold cross-validation (``--repeats`` x 5 held-out folds, the same folds for both models, seeded) and reports the
mean held-out Spearman and macro-F1 of each, plus the single seeded split that ``codeflow classifiers train``
uses. Inference throughput is measured on ``--speed-docs`` texts per set with one torch thread / one fastText
thread, in documents per second per core.

    python bench/classifiers.py [--sets dclm,fineweb,davidson] [--repeats 1] [--speed-docs 100] [--cache DIR]

Not a test: it takes minutes on a CPU (embedding ~3,600 texts, DCLM's long pages chunked).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np

from codeflow.classifiers import fasttext_model, proxy
from codeflow.classifiers.encoder import Chunking, encoder
from codeflow.classifiers.labels import infer_task, read_labels, split
from codeflow.classifiers.metrics import evaluate

DATA = Path(__file__).resolve().parents[1] / "codeflow" / "data" / "classifiers"
SETS = {  # name -> (file, text column, label column, what the label is)
    "dclm": ("dclm_majority.jsonl.gz", "text", "label", "DCLM human judgements, binary (499 web pages)"),
    "fineweb": ("fineweb_edu_llama70b.jsonl.gz", "text", "score", "FineWeb-Edu prompt, llama-3.3-70b, 0-5 (150)"),
    "davidson": ("davidson_tweets.jsonl.gz", "tweet", "toxicity", "toxicity votes (3,000 tweets)"),
}


def embeddings(name: str, texts: list[str], chunking: Chunking, cache: str | None) -> np.ndarray:
    key = hashlib.sha256(("\x00".join(texts) + repr(chunking)).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    path = os.path.join(cache, f"{name}-{key}.npy") if cache else None
    if path and os.path.exists(path):
        return np.load(path)
    X = encoder("minilm", 1).embed(texts, chunking)
    if path:
        os.makedirs(cache, exist_ok=True)
        np.save(path, X)
    return X


def fold_metrics(task, texts, labels, X, buckets, tr, te, seed) -> dict:
    tr_l, te_l = [labels[i] for i in tr], [labels[i] for i in te]
    head = proxy.train(X[tr], [texts[i] for i in tr], tr_l, task)
    ps, pp = head.predict(X[te], [texts[i] for i in te], task)
    ft = fasttext_model.train([texts[i] for i in tr], buckets[tr], seed)
    fs, fp = fasttext_model.predict(ft, [texts[i] for i in te], task)
    return {"proxy": evaluate(task, ps, te_l, pp), "fasttext": evaluate(task, fs, te_l, fp)}


def mean(xs: list) -> float:
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else float("nan")


def speed(texts: list[str], task, labels, X, buckets, chunking: Chunking) -> tuple[float, float]:
    """(proxy docs/s/core, fastText docs/s/core) on ``texts`` with one thread each."""
    import torch

    torch.set_num_threads(1)
    head = proxy.train(X, texts, labels, task)
    enc = encoder("minilm", 1)
    t0 = time.process_time()
    head.predict(enc.embed(texts, chunking), texts, task)
    p = len(texts) / (time.process_time() - t0)
    ft = fasttext_model.train(texts, buckets, 0)
    t0 = time.process_time()
    for _ in range(20):
        fasttext_model.predict(ft, texts, task)
    f = 20 * len(texts) / (time.process_time() - t0)
    return p, f


def _cell(res: dict, one: dict, model: str, key: str) -> str:
    single = one[model][key]
    return f"{res[model][key]:.3f} [{single if single is not None else float('nan'):.3f}]"


def main() -> int:
    from sklearn.model_selection import RepeatedStratifiedKFold

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default="dclm,fineweb,davidson")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--speed-docs", type=int, default=100)
    ap.add_argument("--cache", default=None, help="Folder to keep embeddings between runs (keyed by the texts).")
    args = ap.parse_args()
    chunking = Chunking()
    rows = []
    for name in args.sets.split(","):
        file, tcol, lcol, what = SETS[name]
        ls = read_labels(str(DATA / file), tcol, lcol)
        task = infer_task(ls.labels)
        buckets = task.bucket(ls.labels)
        t0 = time.perf_counter()
        X = embeddings(name, ls.texts, chunking, args.cache)
        print(f"[{name}] {len(ls.texts)} texts embedded in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
        folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=args.repeats, random_state=args.seed)
        cv = [fold_metrics(task, ls.texts, ls.labels, X, buckets, tr, te, args.seed)
              for tr, te in folds.split(X, buckets)]
        tr, te = split(ls.texts, buckets, args.seed)
        one = fold_metrics(task, ls.texts, ls.labels, X, buckets, tr, te, args.seed)
        sub = list(range(min(args.speed_docs, len(ls.texts))))
        p_speed, f_speed = speed([ls.texts[i] for i in sub], task, [ls.labels[i] for i in sub], X[sub],
                                 buckets[sub], chunking)
        res = {m: {k: mean([f[m][k] for f in cv]) for k in ("spearman", "macro_f1")} for m in ("proxy", "fasttext")}
        rows.append((name, what, len(ls.texts), res, one, p_speed, f_speed))
        print(f"[{name}] cv {res} split {({m: {k: one[m][k] for k in ('spearman', 'macro_f1')} for m in one})} "
              f"docs/s/core proxy {p_speed:.1f} fastText {f_speed:.0f}", file=sys.stderr, flush=True)

    print(f"\nheld-out mean over {args.repeats}x5-fold CV (same folds for both); "
          "single seeded 80/20 split in brackets")
    print(f"{'set':9} {'rows':>5}  {'Spearman proxy':>16} {'fastText':>16}  {'macro-F1 proxy':>16} {'fastText':>16}  "
          f"{'proxy wins':>10}  {'docs/s/core proxy':>17} {'fastText':>9}")
    wins = True
    for name, _, n, res, one, ps, fs in rows:
        p, f = res["proxy"], res["fasttext"]
        win = p["spearman"] > f["spearman"] and p["macro_f1"] > f["macro_f1"]
        wins &= win
        c = {(m, k): _cell(res, one, m, k) for m in ("proxy", "fasttext") for k in ("spearman", "macro_f1")}
        print(f"{name:9} {n:5d}  {c['proxy', 'spearman']:>16} {c['fasttext', 'spearman']:>16}  "
              f"{c['proxy', 'macro_f1']:>16} {c['fasttext', 'macro_f1']:>16}  {'yes' if win else 'NO':>10}  "
              f"{ps:17.1f} {fs:9.0f}")
    for name, what, *_ in rows:
        print(f"  {name}: {what}")
    print(f"\ntarget (proxy beats fastText on Spearman and macro-F1 on every set): {'met' if wins else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
