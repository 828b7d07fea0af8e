"""The demo step of the quality classifiers: no endpoint, so nothing is annotated; two models are trained on bundled
real labels and score what the earlier demo steps wrote.

* ``toxicity``: 600 of the bundled Davidson et al. tweets (annotator votes -> probability), text domain, half of
  them "neither" tweets: the fixture is 83% offensive, and a model trained on that prior calls a third of
  ordinary web pages toxic;
* ``edu``: the 150 FineWeb-Edu-prompt scores of llama-3.3-70b (fixture), text domain.

Each model directory (proxy + fastText, card, ``report.html``) lands in ``{lake}/classifiers/models/<dimension>``
(a temporary folder when the lake is not local) and is reused by a re-run. ``classify`` then scores the demo's
documents (keep rule ``toxicity<0.5``) and its validated code (with ``--code-uses-text-models``: there are no
code labels yet, so the text models stand in), with two workers and ``--max-chunks 2``: the demo's code files
are long (up to 8 encoder windows each), and reading their first two windows keeps the step to about a minute on
two cores (see docs/classifiers.md for the measurement).
"""

from __future__ import annotations

import json
import os
import tempfile
from importlib import resources
from pathlib import Path

from codeflow.runner import RunSummary

DEMO_TWEETS = 600
DEMO_MAX_CHUNKS = 2  # encoder windows read per text when scoring (the models may read fewer)
DEMO_WORKERS = 2


def fixture(name: str) -> str:
    return str(Path(str(resources.files("codeflow") / "data" / "classifiers")) / name)


def _model_root(lake: str) -> str:
    local = "://" not in lake or lake.startswith("file://")
    return os.path.join(lake.removeprefix("file://"), "classifiers", "models") if local else tempfile.mkdtemp()


def _train(labels_path: str, text_col: str, label_col: str, dimension: str, out: str) -> None:
    from codeflow.classifiers.labels import read_labels
    from codeflow.classifiers.modeldir import MODEL_JSON, ModelDirError, QualityModel
    from codeflow.classifiers.train import train_models

    if os.path.exists(os.path.join(out, MODEL_JSON)):
        try:
            QualityModel.load(out)
            return
        except ModelDirError:  # written by another model format or encoder: the demo retrains its own folder
            pass
    train_models(read_labels(labels_path, text_col, label_col), dimension, out, overwrite=True)


def demo_classifiers(lake: str, engine: str) -> list[RunSummary]:
    import gzip

    from codeflow.classifiers.classify import make_config, run_classify
    from codeflow.lake import to_fs

    root = _model_root(lake)
    os.makedirs(root, exist_ok=True)
    tweets = os.path.join(root, f"davidson_balanced_{DEMO_TWEETS}.jsonl")
    if not os.path.exists(tweets):
        with gzip.open(fixture("davidson_tweets.jsonl.gz"), "rt") as f:
            rows = [json.loads(line) for line in f]
        half = DEMO_TWEETS // 2  # file order: the first "neither" tweets and the first offensive / hate ones
        picked = [r for r in rows if r["class"] == 2][:half] + [r for r in rows if r["class"] != 2][:half]
        with open(tweets + ".tmp", "w") as g:
            for r in picked:
                g.write(json.dumps({"text": r["tweet"], "toxicity": r["toxicity"]}) + "\n")
        os.replace(tweets + ".tmp", tweets)
    _train(tweets, "text", "toxicity", "toxicity", os.path.join(root, "toxicity"))
    _train(fixture("fineweb_edu_llama70b.jsonl.gz"), "text", "score", "edu", os.path.join(root, "edu"))
    models = [os.path.join(root, "toxicity"), os.path.join(root, "edu")]

    summaries = []
    fs, _ = to_fs(lake)
    # the code step rewrites its shards on every demo run (this checkout's HEAD moves): no resume for code
    for name, inputs, keep, fresh in (("sample_docs", f"{lake}/dedup_minhash/sample_docs", ["toxicity<0.5"], False),
                                      ("sample_code", f"{lake}/code/sample_repos", [], True)):
        if not fs.exists(to_fs(inputs)[1]):
            continue
        cfg = make_config(models, keep, code_uses_text_models=True, max_chunks=DEMO_MAX_CHUNKS)
        summaries.append(run_classify([inputs], f"{lake}/classify/{name}", cfg, engine=engine, workers=DEMO_WORKERS,
                                      overwrite=fresh))
    return summaries
