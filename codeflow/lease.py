"""One writer per output: a lease file ``OUT/_lease.json`` held for the whole run.

Why: two runs writing one output interleave their scratch (one run's ``--overwrite`` or end-of-run cleanup
deletes the other's ``_work``), and the result silently mixes both. The lease makes the second writer stop
before it touches anything, with a message naming the holder.

- Created atomically with an exclusive create (``open(..., "xb")``): ``O_EXCL`` on local and POSIX
  filesystems, a conditional PUT (If-None-Match) on object stores whose fsspec driver supports it.
- The holder rewrites its ``heartbeat`` every ``HEARTBEAT_S`` seconds from a daemon thread.
- A lease whose holder ran on this host and whose process is gone (``kill -9``, a crash) is taken over, with a
  warning: that is certain, so a killed run resumes as before. A lease whose heartbeat is older than
  ``STALE_AFTER_S`` (a holder on another host that went silent) is *stale*; it is never taken over silently:
  ``--break-lease`` breaks it explicitly, and even then a live, fresh lease is refused.
- Re-entrant within one process (the CLI takes it, then ``codeflow.runner.run_plan`` asks again for every
  plan, so Python callers get the same rule), released when the outermost holder exits; the lease file
  survives ``--overwrite`` (``StageOutput.clear`` keeps it) and never counts as content of the folder.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import posixpath
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from codeflow.errors import CodeflowError
from codeflow.lake import LEASE_NAME, atomic_write_json, to_fs

if TYPE_CHECKING:
    from codeflow.engines import Engine

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
STALE_AFTER_S = 120.0


class LeaseError(CodeflowError):
    """The output is held by another writer (or cannot hold a lease at all): a one-line error for the user."""


@dataclass
class Lease:
    """A held lease; ``release()`` stops the heartbeat and removes the file if it is still ours."""

    url: str
    token: str
    body: dict
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.fs, root = to_fs(self.url)
        self.path = posixpath.join(root, LEASE_NAME)

    def start_heartbeat(self, every_s: float = HEARTBEAT_S) -> None:
        self._thread = threading.Thread(target=self._beat, args=(every_s,), name="codeflow-lease", daemon=True)
        self._thread.start()

    def _beat(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            current = read_lease(self.url)
            if current is None or current.get("token") != self.token:
                return  # broken by someone else: stop writing; their run owns the output now
            self.body["heartbeat"] = time.time()
            try:
                atomic_write_json(self.fs, self.path, self.body)
            except OSError as e:  # transient I/O: the next beat tries again; 12 misses make the lease stale
                log.warning("lease heartbeat of %s failed: %s", self.url, e)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        current = read_lease(self.url)
        if current is not None and current.get("token") == self.token:
            self.fs.rm(self.path)


_held: dict[str, tuple[Lease, int]] = {}
_held_lock = threading.Lock()


def _key(url: str) -> str:
    fs, root = to_fs(url)
    protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
    return f"{protocol}://{posixpath.normpath(root)}"


def read_lease(url: str, wait_s: float = 2.0) -> dict | None:
    """The lease body of an output, or None when nobody holds it.

    An exclusive create makes the file before its body is written: an empty file is a lease being taken right
    now, so it is read again (up to ``wait_s``) rather than taken for a holder nobody can name.
    """
    fs, root = to_fs(url)
    path = posixpath.join(root, LEASE_NAME)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with fs.open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        if data or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    try:
        return json.loads(data or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {"owner": "?", "host": "?", "pid": None, "heartbeat": 0, "note": "unreadable lease file"}


def holder_is_dead(body: dict) -> bool:
    """The holder ran on this host and its process is gone (a run killed with ``kill -9``)."""
    if body.get("host") != socket.gethostname() or not isinstance(body.get("pid"), int):
        return False
    if body["pid"] == os.getpid():
        return False
    try:
        os.kill(body["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def is_stale(body: dict, now: float | None = None) -> bool:
    """Heartbeat too old, or the holder's process is gone (only knowable on the same host)."""
    now = time.time() if now is None else now
    return now - float(body.get("heartbeat") or 0) > STALE_AFTER_S or holder_is_dead(body)


def describe(body: dict, now: float | None = None) -> str:
    now = time.time() if now is None else now
    age = now - float(body.get("heartbeat") or 0)
    return (f"{body.get('owner', '?')} (pid {body.get('pid')} on {body.get('host')}, "
            f"last heartbeat {age:.0f}s ago)")


def check_output_path(url: str) -> None:
    """``--out`` must be a folder we can create and write: an existing file or an unwritable place is a
    one-line error before any work."""
    fs, root = to_fs(url)
    if fs.exists(root) and not fs.isdir(root):
        raise LeaseError(f"--out {url} is an existing file, not a folder")
    try:
        fs.makedirs(root, exist_ok=True)
    except PermissionError as e:
        raise LeaseError(f"--out {url} is not writable: {e.strerror or e}") from None
    except (FileExistsError, NotADirectoryError):
        raise LeaseError(f"--out {url}: a parent of it is a file") from None
    except OSError as e:  # read-only filesystem, /proc, ...: the user picks another place
        raise LeaseError(f"--out {url} cannot be created: {e.strerror or e}") from None


def acquire(url: str, break_stale: bool = False) -> Lease:
    """Take the lease of ``url`` or raise ``LeaseError`` naming the holder."""
    check_output_path(url)
    fs, root = to_fs(url)
    path = posixpath.join(root, LEASE_NAME)
    token = uuid.uuid4().hex
    now = time.time()
    body = {"owner": f"{_user()}@{socket.gethostname()}", "host": socket.gethostname(), "pid": os.getpid(),
            "created": now, "heartbeat": now, "token": token}
    for _attempt in range(3):
        try:
            _create_exclusive(fs, path, (json.dumps(body, indent=2, sort_keys=True) + "\n").encode())
            lease = Lease(url, token, body)
            lease.start_heartbeat()
            return lease
        except FileExistsError:
            holder = read_lease(url)
            if holder is None:
                continue  # released between our create and our read: try again
            if holder_is_dead(holder):
                # Certain, not a guess: its process is gone from this host, so no second writer can appear.
                log.warning("taking over the lease of %s from %s, whose process is gone", url, describe(holder))
                fs.rm(path)
                continue
            if not break_stale:
                hint = (" It looks stale (holder gone or silent); if that run is dead, re-run with --break-lease."
                        if is_stale(holder) else " Wait for it to finish, or choose another --out.")
                raise LeaseError(f"{url} is being written by {describe(holder)}.{hint}") from None
            if not is_stale(holder):
                raise LeaseError(f"{url} is being written by {describe(holder)}, which is alive; "
                                 f"--break-lease only breaks a stale lease") from None
            fs.rm(path)
        except PermissionError as e:
            raise LeaseError(f"--out {url} is not writable: {e.strerror or e}") from None
    raise LeaseError(f"could not take the lease of {url}: another writer keeps taking it")


def _create_exclusive(fs, path: str, data: bytes) -> None:
    """Create ``path`` only if it does not exist (``FileExistsError`` otherwise).

    ``mode="xb"`` is exclusive create on local files and a conditional PUT on object stores that support it.
    A driver without it gets write-then-read-back: two writers racing within the same instant could both
    believe they won, which is why the read-back compares the bytes.
    """
    try:
        with fs.open(path, "xb") as f:
            f.write(data)
        return
    except (ValueError, NotImplementedError, TypeError):
        pass  # this filesystem has no exclusive create
    if fs.exists(path):
        raise FileExistsError(path)
    with fs.open(path, "wb") as f:
        f.write(data)
    with fs.open(path, "rb") as f:
        if f.read() != data:
            raise FileExistsError(path)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "?"


@contextmanager
def hold(url: str, break_stale: bool = False) -> Iterator[Lease]:
    """Hold the lease of ``url`` for the block; nested holds in one process share the outermost lease."""
    key = _key(url)
    with _held_lock:
        if key in _held:
            lease, depth = _held[key]
            _held[key] = (lease, depth + 1)
            nested = True
        else:
            nested = False
    if not nested:
        lease = acquire(url, break_stale)
        with _held_lock:
            _held[key] = (lease, 1)
    try:
        yield lease
    finally:
        with _held_lock:
            lease, depth = _held[key]
            if depth > 1:
                _held[key] = (lease, depth - 1)
            else:
                del _held[key]
        if depth == 1:
            lease.release()


PROCESS_LOCAL_PROTOCOLS = ("memory",)


def is_process_local(url: str) -> bool:
    """A filesystem that exists only inside this process (``memory://``); read from the URL alone, so checking a
    path never imports a filesystem driver."""
    return "://" in url and url.split("://", 1)[0].rsplit("::", 1)[-1] in PROCESS_LOCAL_PROTOCOLS


def refuse_process_local(urls: Iterable[str], engine: Engine) -> None:
    """An in-process store (``memory://``) exists only in this process: other worker processes or Spark
    executors would each see their own, and the run would report nothing. Refuse before any work."""
    if engine.in_process:
        return
    for url in urls:
        if is_process_local(url):
            raise LeaseError(f"{url} is a process-local filesystem: it cannot be shared by the {engine.name} engine "
                             f"with {engine.workers} worker(s); use --workers 1 with the local engine, or a real path")
