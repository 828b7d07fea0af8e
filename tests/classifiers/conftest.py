"""A toxicity model trained once per test session on 160 real tweets (Davidson et al.), shared by the tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parents[2] / "codeflow" / "data" / "classifiers"
N_TWEETS = 160


def tweets(n: int = N_TWEETS, offset: int = 0) -> list[dict]:
    rows = [json.loads(line) for line in gzip.open(FIXTURES / "davidson_tweets.jsonl.gz")]
    return rows[offset:offset + n]


@pytest.fixture(scope="session")
def tox_labels(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("labels") / "tweets.jsonl"
    path.write_text("".join(json.dumps({"text": r["tweet"], "toxicity": r["toxicity"]}) + "\n" for r in tweets()))
    return path


@pytest.fixture(scope="session")
def tox_model(tmp_path_factory, tox_labels) -> Path:
    from codeflow.classifiers.labels import read_labels
    from codeflow.classifiers.train import train_models

    out = tmp_path_factory.mktemp("models") / "toxicity"
    train_models(read_labels(str(tox_labels), "text", "toxicity"), "toxicity", str(out))
    return out
