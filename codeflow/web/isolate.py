"""Run one function call in a child process that can be killed: a time limit that also stops C code.

``codeflow.timeouts.time_limit`` is a SIGALRM, and Python runs signal handlers only between bytecodes: a page
that keeps lxml or trafilatura inside one long C call (a 17 MB flat document takes lxml ~2 s in one call) is
interrupted only when that call returns, so the limit is not a limit. Here the call runs in a persistent child
process (``python -m codeflow.web.isolate``, started once per worker process, imports done before the first
call is timed); on timeout the parent kills the child, raises ``StepTimeout`` and starts a fresh child for the
next call. A child that dies by itself (a segfault in a C library on a hostile page) raises ``WorkerDied``.

Protocol: length-prefixed pickles over the child's stdin/stdout (the child points its own fd 1 at stderr, so
stray prints from libraries cannot corrupt a frame). A ``subprocess`` child, not ``multiprocessing``: the
datatrove and Spark workers that run units are themselves daemonic processes, which may not fork
``multiprocessing`` children. The child exits when its stdin closes, so it never outlives its parent's pipe.
"""

from __future__ import annotations

import atexit
import importlib
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
import traceback
from typing import Any

from codeflow.timeouts import StepTimeout

_LEN = struct.Struct("<Q")


class WorkerDied(RuntimeError):
    """The child process ended during a call (killed by the OS, or a crash inside a C extension)."""


class _Timeout(Exception):
    pass


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        wait = None if deadline is None else deadline - time.monotonic()
        if wait is not None and wait <= 0:
            raise _Timeout
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            raise _Timeout
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise WorkerDied("the isolated worker closed its pipe")
        buf += chunk
    return bytes(buf)


def _read_frame(fd: int, deadline: float | None) -> Any:
    (size,) = _LEN.unpack(_read_exact(fd, _LEN.size, deadline))
    return pickle.loads(_read_exact(fd, size, deadline))


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _LEN.pack(len(data)) + data


class IsolatedWorker:
    """Calls ``target`` (``"module:function"``) in a killable child process, one call at a time."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.proc: subprocess.Popen | None = None
        self.lock = threading.Lock()
        self.restarts = 0

    def _start(self) -> subprocess.Popen:
        # The child sees the parent's import path (a Spark executor may have codeflow only via --py-files).
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        proc = subprocess.Popen([sys.executable, "-m", "codeflow.web.isolate", self.target],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        try:
            ready = _read_frame(proc.stdout.fileno(), None)  # imports happen before any call is timed
        except WorkerDied:
            proc.wait()
            raise WorkerDied(f"isolated worker for {self.target} failed to start (exit {proc.returncode})") from None
        if ready != "ready":
            proc.kill()
            raise RuntimeError(f"isolated worker for {self.target} sent {ready!r} instead of 'ready'")
        return proc

    def call(self, args: tuple, timeout: float | None) -> Any:
        """``target(*args)`` in the child; ``StepTimeout`` after ``timeout`` seconds (None: no limit)."""
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self.proc = self._start()
            proc = self.proc
            try:
                proc.stdin.write(_frame(args))
                proc.stdin.flush()
                deadline = None if not timeout else time.monotonic() + timeout
                status, value = _read_frame(proc.stdout.fileno(), deadline)
            except _Timeout:
                self._kill()
                raise StepTimeout(f"step exceeded {timeout:g}s (worker process killed)") from None
            except (WorkerDied, BrokenPipeError):
                code = proc.wait()
                self.proc = None
                self.restarts += 1
                raise WorkerDied(f"isolated worker for {self.target} died (exit {code})") from None
        if status == "ok":
            return value
        raise RuntimeError(f"{self.target} raised in the isolated worker:\n{value}")  # a bug: crash loudly

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.restarts += 1

    def close(self) -> None:
        with self.lock:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.stdin.close()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None


_WORKERS: dict[str, IsolatedWorker] = {}


def worker(target: str) -> IsolatedWorker:
    """The process-wide worker for ``target`` (one child per worker process, closed at exit)."""
    w = _WORKERS.get(target)
    if w is None:
        w = _WORKERS[target] = IsolatedWorker(target)
    return w


@atexit.register
def _close_all() -> None:
    for w in _WORKERS.values():
        w.close()


def _serve(target: str) -> None:
    """Child side: import ``target``, say ready, answer calls until stdin closes."""
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into a frame
    module, _, name = target.partition(":")
    fn = getattr(importlib.import_module(module), name)
    out.write(_frame("ready"))
    fd = sys.stdin.fileno()
    while True:
        try:
            args = _read_frame(fd, None)
        except WorkerDied:
            return  # the parent closed the pipe (or exited)
        try:
            reply = ("ok", fn(*args))
        except Exception:  # noqa: BLE001 - sent to the parent, which raises it there as the bug it is
            reply = ("error", traceback.format_exc())
        out.write(_frame(reply))


if __name__ == "__main__":
    _serve(sys.argv[1])
