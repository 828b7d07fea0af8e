"""Per-page extraction time limit: a page that takes too long is one reject, the file goes on."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from codeflow.timeouts import StepTimeout, time_limit
from codeflow.web import html as H
from codeflow.web.config import CleanCCConfig
from codeflow.web.isolate import IsolatedWorker, WorkerDied
from codeflow.web.pipeline import process_warc
from tests.web.warcs import record_bytes, sample_pages, small_pages, write_warc

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


@pytest.mark.parametrize("isolation", ["process", "signal"])
def test_slow_page_is_rejected_and_the_rest_is_processed(tmp_path, isolation) -> None:
    good = sample_pages(1)[0]
    paragraphs = "".join(f"<p>Paragraph {i} about parsing code and cleaning web text for models.</p>"
                         for i in range(20000))
    huge = f"<html><body><article>{paragraphs}</article></body></html>".encode()
    path = write_warc(tmp_path / "t.warc.gz", [record_bytes("https://example.org/huge", huge),
                                               record_bytes(good.url, good.payload)])
    limited = process_warc(path, CleanCCConfig(extraction_timeout_s=0.05, extraction_isolation=isolation, **LENIENT))
    by_url = {r["source"]: r["reason"] for r in limited.doc_rejects}
    assert "extraction_timeout" in by_url.values()
    assert limited.stats["records_in"] == len(limited.docs) + len(limited.doc_rejects) == 2
    if isolation == "process":
        return  # without a limit extraction runs in this process whatever the isolation: checked once below
    unlimited = process_warc(path, CleanCCConfig(extraction_timeout_s=0, **LENIENT))
    assert "extraction_timeout" not in {r["reason"] for r in unlimited.doc_rejects}
    assert "https://example.org/huge" in {d["url"] for d in unlimited.docs}


# Large enough that parsing it inline takes several times the limit even on an idle, fast machine.
FLAT_DOC = "<html><body>" + '<p class="x">word word word <b>bold</b></p>' * 400_000 + "</body></html>"


def test_process_limit_stops_a_long_c_call_that_the_signal_limit_cannot() -> None:
    """lxml parses a flat 16 MB document in one C call: SIGALRM fires on time but Python only runs the handler
    when the call returns; the worker process is killed on time."""
    t0 = time.perf_counter()
    with pytest.raises(StepTimeout):
        with time_limit(0.05):
            H.parse(FLAT_DOC)
    inline = time.perf_counter() - t0
    w = IsolatedWorker("codeflow.web.html:extract_page")
    try:
        assert w.call(("<html><body><p>warm up</p></body></html>", True), 30)[1] == "warm up"
        t0 = time.perf_counter()
        with pytest.raises(StepTimeout, match="killed"):
            w.call((FLAT_DOC, True), 0.05)
        isolated = time.perf_counter() - t0
        assert w.proc is None and w.restarts == 1
        assert w.call(("<html><body><p>next page</p></body></html>", True), 30)[1] == "next page"  # a fresh worker
    finally:
        w.close()
    assert isolated < inline / 2, (isolated, inline)


def test_a_worker_that_dies_is_reported_and_replaced() -> None:
    w = IsolatedWorker("os:_exit")
    try:
        for n in (1, 2):
            with pytest.raises(WorkerDied, match="exit 3"):
                w.call((3,), 5)
            assert w.restarts == n
    finally:
        w.close()


def test_process_and_signal_isolation_give_the_same_documents(tmp_path) -> None:
    pages = small_pages(3)
    path = write_warc(tmp_path / "s.warc.gz", [record_bytes(p.url, p.payload) for p in pages])
    a = process_warc(path, CleanCCConfig(extraction_isolation="process"))
    b = process_warc(path, CleanCCConfig(extraction_isolation="signal"))
    assert a.docs == b.docs and a.blocks == b.blocks and a.doc_rejects == b.doc_rejects
    assert len(a.docs) + len(a.doc_rejects) == 3
