"""Per-page extraction time limit: a page that takes too long is one reject, the file goes on."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from codeflow.timeouts import StepTimeout, time_limit
from codeflow.web.config import CleanCCConfig
from codeflow.web.pipeline import process_warc
from tests.web.warcs import record_bytes, sample_pages, write_warc

LENIENT = dict(filters=(), languages=(), min_text_chars=1)


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_time_limit_interrupts_and_restores_the_handler() -> None:
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(StepTimeout):
        with time_limit(0.05):
            _spin(2.0)
    assert signal.getsignal(signal.SIGALRM) is before
    with time_limit(1.0):
        _spin(0.01)  # finishes in time: nothing raised, and no alarm left armed afterwards
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_time_limit_is_a_no_op_off_the_main_thread() -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with time_limit(0.01):
                _spin(0.05)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert errors == []


def test_slow_page_is_rejected_and_the_rest_is_processed(tmp_path) -> None:
    good = sample_pages(1)[0]
    paragraphs = "".join(f"<p>Paragraph {i} about parsing code and cleaning web text for models.</p>"
                         for i in range(20000))
    huge = f"<html><body><article>{paragraphs}</article></body></html>".encode()
    path = write_warc(tmp_path / "t.warc.gz", [record_bytes("https://example.org/huge", huge),
                                               record_bytes(good.url, good.payload)])
    limited = process_warc(path, CleanCCConfig(extraction_timeout_s=0.05, **LENIENT))
    by_url = {r["source"]: r["reason"] for r in limited.doc_rejects}
    assert "extraction_timeout" in by_url.values()
    assert limited.stats["records_in"] == len(limited.docs) + len(limited.doc_rejects) == 2
    unlimited = process_warc(path, CleanCCConfig(extraction_timeout_s=0, **LENIENT))
    assert "extraction_timeout" not in {r["reason"] for r in unlimited.doc_rejects}
    assert "https://example.org/huge" in {d["url"] for d in unlimited.docs}
