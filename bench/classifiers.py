"""Proxy (frozen all-MiniLM-L6-v2 + head) against the fastText baseline on every real labelled set we ship.

Anchor: fastText supervised on the same folds, the baseline of DCLM and FineWeb-Edu. For each set the script
embeds every chunk of every text once, keeping every encoder layer (the encoder is frozen, so folds share chunk
vectors; each per-layer member of the proxy picks its pooled prefix, length feature and regularization inside each
training fold, never on the held-out fold), then runs
repeated stratified 5-fold cross-validation (``--repeats`` x 5 held-out folds, the same folds for both models,
seeded) and reports the mean held-out Spearman and macro-F1 of each with the spread over folds, the single seeded
split that ``codeflow classifiers train`` uses, and a bootstrap 95% interval of the proxy-minus-fastText gap
(texts resampled over the out-of-fold predictions of the first repeat). Inference throughput is measured on
``--speed-docs`` texts per set with one torch thread / one fastText thread, in documents per second per core.

    python bench/classifiers.py [--sets dclm,fineweb,davidson] [--repeats 1] [--speed-docs 100] [--cache DIR]

Not a test: it takes minutes on a CPU (embedding ~3,600 texts, DCLM's long pages chunked).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from codeflow.classifiers import fasttext_model, proxy
from codeflow.classifiers.encoder import Chunking, Chunks, encoder
from codeflow.classifiers.labels import infer_task, read_labels, split
from codeflow.classifiers.metrics import evaluate

DATA = Path(__file__).resolve().parents[1] / "codeflow" / "data" / "classifiers"
SETS = {  # name -> (file, text column, label column, what the label is)
    "dclm": ("dclm_majority.jsonl.gz", "text", "label", "DCLM human judgements, binary (499 web pages)"),
    "fineweb": ("fineweb_edu_llama70b.jsonl.gz", "text", "score", "FineWeb-Edu prompt, llama-3.3-70b, 0-5 (150)"),
    "davidson": ("davidson_tweets.jsonl.gz", "tweet", "toxicity", "toxicity votes (3,000 tweets)"),
}


def embeddings(name: str, texts: list[str], chunking: Chunking, cache: str | None) -> Chunks:
    key = hashlib.sha256(("\x00".join(texts) + repr(chunking)).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    path = os.path.join(cache, f"{name}-layers-{key}.npz") if cache else None  # every layer's mean token state
    if path and os.path.exists(path):
        with np.load(path) as z:
            return Chunks(z["vecs"], z["owner"], z["pos"], int(z["n"]))
    ch = encoder("minilm", 1).embed_chunks(texts, chunking)
    if path:
        os.makedirs(cache, exist_ok=True)
        np.savez(path, vecs=ch.vecs, owner=ch.owner, pos=ch.pos, n=np.array(ch.n))
    return ch


def fold_run(task, texts, labels, chunks: Chunks, buckets, tr, te, seed, max_chunks: int) -> dict:
    """Both models trained on ``tr`` and scored on ``te``: {model: (scores, predicted buckets)}."""
    head = proxy.train(chunks.subset(tr), [texts[i] for i in tr], [labels[i] for i in tr], task, max_chunks)
    ps, pp = head.predict(chunks.subset(te), [texts[i] for i in te], task)
    ft = fasttext_model.train([texts[i] for i in tr], buckets[tr], seed)
    fs, fp = fasttext_model.predict(ft, [texts[i] for i in te], task)
    return {"proxy": (ps, pp), "fasttext": (fs, fp), "picked": (head.max_chunks, int(head.length.sum()))}


def fold_metrics(task, labels, te, run: dict) -> dict:
    te_l = [labels[i] for i in te]
    return {m: evaluate(task, run[m][0], te_l, run[m][1]) for m in ("proxy", "fasttext")}


def bootstrap_gap(task, labels, oof: dict, seed: int, n_boot: int = 1000) -> dict:
    """95% bootstrap intervals of proxy minus fastText Spearman and macro-F1 over out-of-fold predictions."""
    from codeflow.classifiers.metrics import macro_f1, spearman

    y = task.numeric(labels)
    true_b = task.bucket(labels)
    rng = np.random.default_rng(seed)
    gaps: dict[str, list[float]] = {"spearman": [], "macro_f1": []}
    for _ in range(n_boot):
        idx = rng.integers(0, len(labels), len(labels))
        if y is not None:
            a, b = spearman(oof["proxy"][0][idx], y[idx]), spearman(oof["fasttext"][0][idx], y[idx])
            if a is not None and b is not None:
                gaps["spearman"].append(a - b)
        gaps["macro_f1"].append(macro_f1(true_b[idx], oof["proxy"][1][idx])
                                - macro_f1(true_b[idx], oof["fasttext"][1][idx]))
    return {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) if v else (float("nan"),) * 2
            for k, v in gaps.items()}


def mean(xs: list) -> float:
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else float("nan")


def speed(texts: list[str], task, labels, chunks: Chunks, buckets, chunking: Chunking) -> tuple[float, float]:
    """(proxy docs/s/core, fastText docs/s/core) on ``texts`` with one thread each (the proxy reads as many chunks
    as the head it picks on these texts)."""
    import torch

    torch.set_num_threads(1)
    head = proxy.train(chunks, texts, labels, task, chunking.max_chunks)
    enc = encoder("minilm", 1)
    t0 = time.process_time()
    head.predict(enc.embed_chunks(texts, Chunking(chunking.window, head.max_chunks)), texts, task)
    p = len(texts) / (time.process_time() - t0)
    ft = fasttext_model.train(texts, buckets, 0)
    t0 = time.process_time()
    for _ in range(20):
        fasttext_model.predict(ft, texts, task)
    f = 20 * len(texts) / (time.process_time() - t0)
    return p, f


def sdev(xs: list) -> float:
    xs = [x for x in xs if x is not None]
    return float(np.std(xs)) if xs else float("nan")


def _cell(res: dict, one: dict, sd: dict, model: str, key: str) -> str:
    single = one[model][key]
    return f"{res[model][key]:.3f}±{sd[model][key]:.3f} [{single if single is not None else float('nan'):.3f}]"


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
        chunks = embeddings(name, ls.texts, chunking, args.cache)
        print(f"[{name}] {len(ls.texts)} texts embedded in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
        folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=args.repeats, random_state=args.seed)
        cv, picked = [], Counter()
        oof = {m: (np.zeros(len(ls.texts)), np.zeros(len(ls.texts), dtype=np.int64)) for m in ("proxy", "fasttext")}
        for k, (tr, te) in enumerate(folds.split(np.zeros(len(buckets)), buckets)):
            run = fold_run(task, ls.texts, ls.labels, chunks, buckets, tr, te, args.seed, chunking.max_chunks)
            cv.append(fold_metrics(task, ls.labels, te, run))
            picked[run["picked"]] += 1
            if k < 5:  # the first repeat covers every text once
                for m in oof:
                    oof[m][0][te], oof[m][1][te] = run[m]
        tr, te = split(ls.texts, buckets, args.seed)
        one = fold_metrics(task, ls.labels, te, fold_run(task, ls.texts, ls.labels, chunks, buckets, tr, te,
                                                         args.seed, chunking.max_chunks))
        gap = bootstrap_gap(task, ls.labels, oof, args.seed)
        sub = np.arange(min(args.speed_docs, len(ls.texts)))
        p_speed, f_speed = speed([ls.texts[i] for i in sub], task, [ls.labels[i] for i in sub], chunks.subset(sub),
                                 buckets[sub], chunking)
        res = {m: {k: mean([f[m][k] for f in cv]) for k in ("spearman", "macro_f1")} for m in ("proxy", "fasttext")}
        sd = {m: {k: sdev([f[m][k] for f in cv]) for k in ("spearman", "macro_f1")} for m in ("proxy", "fasttext")}
        rows.append((name, what, len(ls.texts), res, one, p_speed, f_speed, sd, gap, picked))
        print(f"[{name}] cv {res} sd {sd} split {({m: {k: one[m][k] for k in ('spearman', 'macro_f1')} for m in one})}"
              f" gap CI {gap} picked (max chunks, members with length) {dict(picked)} docs/s/core proxy {p_speed:.1f} "
              f"fastText {f_speed:.0f}", file=sys.stderr, flush=True)

    print(f"\nheld-out mean ± sd over {args.repeats}x5-fold CV (same folds for both); single seeded 80/20 split "
          "in brackets")
    print(f"{'set':9} {'rows':>5}  {'Spearman proxy':>22} {'fastText':>22}  {'macro-F1 proxy':>22} {'fastText':>22}  "
          f"{'proxy wins':>10}  {'docs/s/core proxy':>17} {'fastText':>9}")
    wins = True
    for name, _, n, res, one, ps, fs, sd, *_ in rows:
        p, f = res["proxy"], res["fasttext"]
        win = p["spearman"] > f["spearman"] and p["macro_f1"] > f["macro_f1"]
        wins &= win
        c = {(m, k): _cell(res, one, sd, m, k) for m in ("proxy", "fasttext") for k in ("spearman", "macro_f1")}
        print(f"{name:9} {n:5d}  {c['proxy', 'spearman']:>22} {c['fasttext', 'spearman']:>22}  "
              f"{c['proxy', 'macro_f1']:>22} {c['fasttext', 'macro_f1']:>22}  {'yes' if win else 'NO':>10}  "
              f"{ps:17.1f} {fs:9.0f}")
    print("\nproxy minus fastText, bootstrap 95% interval over texts (out-of-fold predictions, first repeat):")
    for name, what, *_, gap, picked in rows:
        print(f"  {name}: Spearman [{gap['spearman'][0]:+.3f}, {gap['spearman'][1]:+.3f}]  macro-F1 "
              f"[{gap['macro_f1'][0]:+.3f}, {gap['macro_f1'][1]:+.3f}]   proxy features picked per fold "
              f"(max chunks, members with length): {', '.join(f'{k}: {v}' for k, v in sorted(picked.items()))}"
              f"   ({what})")
    print(f"\ntarget (proxy beats fastText on Spearman and macro-F1 on every set): {'met' if wins else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
