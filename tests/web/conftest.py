"""One run of the funnel over the bundled sample WARC, shared by the tests that read its results."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def sample_result():
    from codeflow.web.config import CleanCCConfig
    from codeflow.web.pipeline import process_warc
    from tests.web.warcs import SAMPLE

    return process_warc(SAMPLE, CleanCCConfig())
