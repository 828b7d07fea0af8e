from __future__ import annotations

import pytest

from codeflow.decontam.benchmarks import resolve
from codeflow.decontam.index import MATCHERS, MatchConfig, build_index

from .helpers import BENCHES


@pytest.fixture(scope="session")
def index():
    """HumanEval, MBPP and GSM8K with every lexical matcher on (built once: a few seconds)."""
    return build_index(resolve(BENCHES), MatchConfig())


@pytest.fixture(scope="session")
def single_indexes():
    """One index per matcher with only that matcher on (embedding with the model-free hashing encoder)."""
    return {m: build_index(resolve("humaneval"), MatchConfig(matchers=(m,))) for m in MATCHERS}
