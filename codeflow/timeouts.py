"""A wall-clock limit for one record's step, so one pathological input cannot stall a worker.

Uses ``SIGALRM`` (``setitimer``), which only the main thread of a process can receive. Engines run units in
the main thread (datatrove worker processes, Spark Python workers, and the CLI, which draws its progress bar
from a side thread for this reason); elsewhere the limit is skipped rather than enforced wrongly.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StepTimeout(BaseException):
    """The step ran past its limit.

    A ``BaseException`` (like ``KeyboardInterrupt``) on purpose: libraries such as trafilatura wrap their work
    in ``except Exception`` and would turn the timeout into a silent empty result.
    """


def limits_available() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise ``StepTimeout`` inside the block after ``seconds`` (None or 0: no limit)."""
    if not seconds or not limits_available():
        yield
        return

    def on_alarm(signum, frame):  # noqa: ARG001 - signal handler signature
        raise StepTimeout(f"step exceeded {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
