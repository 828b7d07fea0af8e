"""Repository lists and opening repositories with pygit2: shared by code ingestion and commit mining.

A repo list (``list.txt``) has one repository per line::

    # comments and blank lines are ignored
    /data/repos/attrs                      a working tree (its .git is used) or a bare repository
    /data/mirrors/jsoup.git<TAB>jsoup       an optional name after a TAB (default: derived from the path/URL)
    https://github.com/pallets/click.git    a clone URL: cloned (bare) once into the cache folder

Why pygit2 and the object store: files at HEAD and history are read straight from the packfiles, with no
checkout and no subprocess per file, and a bare mirror works as well as a working tree.

Every problem with one repository (missing path, not a repository, empty, clone failure, a clone over the size
or time limit) is a ``RepoError`` with a machine-readable ``reason``, so a stage turns it into one reject line and
the other repositories go on. A network failure that may pass (connection refused or reset, a timeout, HTTP 5xx
or 429) is not the repository's fault: it raises ``TransientRepoError`` (an ``OSError``), which the runner
retries and finally reports as a failed, uncommitted unit.

Pinning: ``pin_entries`` resolves every repository to a commit id when the run is planned (``git ls-remote`` for
URLs, HEAD for local repositories), and the unit string carries it as ``location@sha``; every job, on every
executor, reads that commit (``entry_commit``), fetching it into the cache when the cached clone predates it.
The manifest records ``location@sha`` per shard.

Clone limits (environment, not data semantics, so not in the config hash): ``CODEFLOW_CLONE_MAX_BYTES``
(default 4 GiB received) rejects ``too_large``; ``CODEFLOW_CLONE_TIMEOUT_S`` (default 1800 s) rejects
``clone_timeout`` (also the libgit2 server timeout, so a stalled server cannot hang a worker).

A unit string (``RepoEntry.unit``) carries the entry through the engines as plain text.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codeflow.errors import CodeflowError

# Git tree entry modes.
MODE_TREE = 0o040000
MODE_BLOB = 0o100644
MODE_EXEC = 0o100755
MODE_LINK = 0o120000
MODE_COMMIT = 0o160000  # a submodule (gitlink): the tree points at a commit of another repository

_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)


class RepoListError(CodeflowError):
    """The list file itself is unusable (missing, unreadable): a one-line CLI error."""


class TransientRepoError(OSError):
    """A network failure talking to a repository's server; retried by the runner, never a reject."""


class RepoError(Exception):
    """One repository cannot be used. ``reason`` is the reject reason, ``detail`` says why, for humans."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


_PINNED = re.compile(r"^(?P<location>.+)@(?P<sha>[0-9a-f]{40})$")


@dataclass(frozen=True)
class RepoEntry:
    """One line of a repo list: where the repository is, the name its records carry, and (once pinned at plan
    time) the commit every job reads."""

    location: str
    name: str
    line_no: int = 0
    commit: str = ""

    @property
    def is_url(self) -> bool:
        return is_url(self.location)

    @property
    def unit(self) -> str:
        """The entry as a unit string for the engines (``location[@sha]<TAB>name``)."""
        pinned = f"{self.location}@{self.commit}" if self.commit else self.location
        return f"{pinned}\t{self.name}"

    @classmethod
    def from_unit(cls, unit: str) -> RepoEntry:
        location, _, name = unit.partition("\t")
        commit = ""
        m = _PINNED.match(location)
        if m and not os.path.exists(location):
            location, commit = m.group("location"), m.group("sha")
        return cls(location, name or repo_name_for(location), commit=commit)


def is_url(location: str) -> bool:
    """``https://…``, ``file://…``, ``ssh://…`` and scp-like ``git@host:owner/name`` are URLs."""
    return bool(_URL.match(location)) and not os.path.exists(location)


def repo_name_for(location: str) -> str:
    """A readable default name: ``owner/name`` for URLs, the folder name for paths (``.git`` stripped)."""
    loc = location.rstrip("/")
    if is_url(loc):
        tail = re.split(r"[:/]", loc.split("://", 1)[-1])
        parts = [p for p in tail if p][-2:]
        name = "/".join(parts[-2:]) if len(parts) >= 2 and "." not in parts[-2] else parts[-1]
    else:
        p = Path(loc)
        name = p.parent.name if p.name == ".git" else p.name
    return name[:-4] if name.endswith(".git") else name


def parse_repo_list(text: str) -> list[RepoEntry]:
    """Entries of a repo list, in file order; ``#`` comments (whole line or after whitespace) are dropped."""
    entries: list[RepoEntry] = []
    for i, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not line.strip():
            continue
        location, tab, name = line.partition("\t")
        location = location.strip()
        if not tab and " " in location and not os.path.exists(location):
            # Be lenient with spaces instead of a TAB, unless the path really has a space in it.
            location, _, name = location.partition(" ")
        location = os.path.expanduser(location.strip())
        entries.append(RepoEntry(location, name.strip() or repo_name_for(location), i))
    return entries


def read_repo_list(path: str) -> list[RepoEntry]:
    """Read and parse a repo list file; a missing file or one with no entries is a usage error."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise RepoListError(f"cannot read repo list {path}: {e.strerror or e}") from e
    try:
        text = raw.decode("utf-8-sig")  # a BOM (Windows editors) is not part of the first path
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise RepoListError(f"repo list {path} is not UTF-8 (line {line}, byte {e.start}); save it as UTF-8") \
            from None
    entries = parse_repo_list(text)
    if not entries:
        raise RepoListError(f"repo list {path} has no entries")
    base = Path(path).resolve().parent
    # Relative paths are relative to the list file, so a list travels with its repos.
    resolved = [e if e.is_url or os.path.isabs(e.location) else
                RepoEntry(os.path.normpath(str(base / e.location)), e.name, e.line_no) for e in entries]
    return unique_entries(resolved)


def unique_entries(entries: list[RepoEntry]) -> list[RepoEntry]:
    """The same repository listed twice is mined once (its first line wins): twice would duplicate its records."""
    seen: set[str] = set()
    out = []
    for e in entries:
        key = e.location.rstrip("/") if e.is_url else os.path.realpath(e.location)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def default_cache_dir() -> str:
    """Where URL clones go: ``$CODEFLOW_REPO_CACHE``, else ``~/.cache/codeflow/repos``."""
    return os.environ.get("CODEFLOW_REPO_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "codeflow",
                                                                    "repos")


def cache_path_for(url: str, cache_dir: str | None = None) -> str:
    """Stable cache folder of a URL: readable name plus a short hash (two URLs never share a folder)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", repo_name_for(url))[:80]
    digest = hashlib.sha1(url.encode()).hexdigest()[:10]
    return os.path.join(cache_dir or default_cache_dir(), f"{slug}-{digest}.git")


@dataclass(frozen=True)
class CloneLimits:
    """Size and time budget of one clone or fetch (defaults from the environment, see the module docstring)."""

    max_bytes: int = 0
    timeout_s: float = 0.0

    @classmethod
    def from_env(cls) -> CloneLimits:
        return cls(int(os.environ.get("CODEFLOW_CLONE_MAX_BYTES", str(4 << 30))),
                   float(os.environ.get("CODEFLOW_CLONE_TIMEOUT_S", "1800")))


# libgit2 messages of failures that may pass on retry (network, throttling, server errors).
_TRANSIENT = re.compile(r"failed to connect|connection (refused|reset|timed out|closed)|timed? ?out|"
                        r"could not resolve host|failed to resolve address|temporar|early eof|"
                        r"unexpected http status code: (5\d\d|429)|too many requests|network is unreachable|"
                        r"broken pipe|ssl", re.IGNORECASE)


class _LimitExceeded(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _callbacks(limits: CloneLimits):
    """Remote callbacks that abort a transfer past the size or time budget (pygit2 re-raises our exception)."""
    import pygit2

    deadline = time.monotonic() + limits.timeout_s if limits.timeout_s else None

    class Budget(pygit2.RemoteCallbacks):
        def transfer_progress(self, stats) -> None:
            if limits.max_bytes and stats.received_bytes > limits.max_bytes:
                raise _LimitExceeded("too_large", f"clone passed {limits.max_bytes} bytes "
                                                  f"({stats.received_objects}/{stats.total_objects} objects)")
            if deadline is not None and time.monotonic() > deadline:
                raise _LimitExceeded("clone_timeout", f"clone took more than {limits.timeout_s:g}s")

    return Budget()


def _git_failure(url: str, e: Exception, reason: str = "clone_failed") -> Exception:
    """A ``RepoError`` for a bad repository, a ``TransientRepoError`` for a network failure."""
    if isinstance(e, _LimitExceeded):
        return RepoError(e.reason, f"{url}: {e.detail}")
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    if isinstance(e, OSError) or _TRANSIENT.search(msg):
        return TransientRepoError(f"{url}: {msg}")
    return RepoError(reason, f"{url}: {msg}")


class _ServerTimeout:
    """libgit2's server (read) timeout for the duration of one transfer; restored afterwards."""

    def __init__(self, seconds: float) -> None:
        self.ms = int(seconds * 1000)

    def __enter__(self) -> None:
        import pygit2
        from pygit2.enums import Option

        self.before = pygit2.option(Option.GET_SERVER_TIMEOUT) if self.ms else None
        if self.ms:
            pygit2.option(Option.SET_SERVER_TIMEOUT, self.ms)

    def __exit__(self, *exc) -> None:
        import pygit2
        from pygit2.enums import Option

        if self.ms:
            pygit2.option(Option.SET_SERVER_TIMEOUT, self.before)


def clone_cached(url: str, cache_dir: str | None = None, limits: CloneLimits | None = None):
    """A bare clone of ``url`` in the cache, cloned on first use; concurrent workers never see a half clone.

    The clone goes to a temporary folder next to the target and is renamed into place; when another worker
    won the race, its clone is used and ours is dropped. A cached clone is only fetched again when a pinned
    commit is missing from it (``entry_commit``); delete the folder to drop it.
    """
    import pygit2

    limits = limits or CloneLimits.from_env()
    target = cache_path_for(url, cache_dir)
    if os.path.isdir(target):
        return _open_path(target)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".clone-", dir=os.path.dirname(target))
    try:
        with _ServerTimeout(limits.timeout_s):
            pygit2.clone_repository(url, tmp, bare=True, callbacks=_callbacks(limits))
        try:
            os.rename(tmp, target)
        except OSError:
            if not os.path.isdir(target):
                raise
    except (pygit2.GitError, ValueError, _LimitExceeded) as e:
        raise _git_failure(url, e) from e
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return _open_path(target)


def resolve_remote_head(url: str) -> str:
    """The commit a URL's HEAD points at, asked of the server (``git ls-remote``), without cloning."""
    import pygit2

    with tempfile.TemporaryDirectory(prefix="codeflow-lsremote-") as tmp:
        repo = pygit2.init_repository(tmp, bare=True)
        try:
            with _ServerTimeout(CloneLimits.from_env().timeout_s):
                heads = repo.remotes.create_anonymous(url).list_heads()
        except (pygit2.GitError, ValueError) as e:
            raise _git_failure(url, e, "repo_not_found" if "not found" in str(e).lower() else "clone_failed") \
                from e
    for h in heads:
        if h.name == "HEAD":
            return str(h.oid)
    raise RepoError("empty_repo", f"{url}: the server lists no HEAD")


def pin_entries(entries: list[RepoEntry]) -> list[RepoEntry]:
    """Every entry with the commit its HEAD points at now (plan time), so all jobs of a run read one commit.

    An entry that cannot be resolved (missing, not a repository, empty) stays unpinned: its job meets the
    same problem and turns it into a reject with the precise reason. Network failures are retried by the
    job, like any transient I/O.
    """
    pinned = []
    for e in entries:
        if e.commit:
            pinned.append(e)
            continue
        try:
            sha = resolve_remote_head(e.location) if e.is_url else str(head_commit(_open_path(e.location)).id)
        except (RepoError, TransientRepoError):
            pinned.append(e)
            continue
        pinned.append(RepoEntry(e.location, e.name, e.line_no, sha))
    return pinned


def entry_commit(repo, entry: RepoEntry, cache_dir: str | None = None, limits: CloneLimits | None = None):
    """The commit a job reads: the pinned one (fetched into a stale cache if needed), else HEAD."""
    import pygit2

    if not entry.commit:
        return head_commit(repo)
    try:
        return repo[entry.commit].peel(pygit2.Commit)
    except KeyError:
        if not entry.is_url:
            raise RepoError("commit_missing", f"{entry.location}: pinned commit {entry.commit} is gone") from None
    limits = limits or CloneLimits.from_env()
    try:
        with _ServerTimeout(limits.timeout_s):
            repo.remotes.create_anonymous(entry.location).fetch(["+refs/heads/*:refs/heads/*", "HEAD"],
                                                               callbacks=_callbacks(limits))
    except (pygit2.GitError, ValueError, _LimitExceeded) as e:
        raise _git_failure(entry.location, e) from e
    try:
        return repo[entry.commit].peel(pygit2.Commit)
    except KeyError:
        raise RepoError("commit_missing", f"{entry.location}: pinned commit {entry.commit} not on the server") \
            from None


def _open_path(path: str):
    import pygit2
    from pygit2.enums import RepositoryOpenFlag

    if not os.path.exists(path):
        raise RepoError("repo_not_found", f"no such path: {path}")
    if not os.path.isdir(path):
        raise RepoError("not_a_repo", f"not a directory: {path}")
    try:
        # NO_SEARCH: a plain folder inside some other repository must not open that parent repository.
        return pygit2.Repository(path, RepositoryOpenFlag.NO_SEARCH)
    except (pygit2.GitError, KeyError, ValueError) as e:
        raise RepoError("not_a_repo", f"{path}: {str(e).splitlines()[0] if str(e) else 'not a git repository'}") \
            from e


def open_repo(entry: RepoEntry | str, cache_dir: str | None = None, limits: CloneLimits | None = None):
    """The ``pygit2.Repository`` of an entry (path, bare repo, or URL cloned into the cache).

    Raises ``RepoError`` with reason ``repo_not_found``, ``not_a_repo``, ``clone_failed``, ``too_large`` or
    ``clone_timeout``; ``TransientRepoError`` for network failures.
    """
    location = entry.location if isinstance(entry, RepoEntry) else entry
    if is_url(location):
        return clone_cached(location, cache_dir, limits)
    return _open_path(location)


def head_commit(repo):
    """The commit HEAD points at; ``RepoError("empty_repo")`` for a repository without commits.

    A detached HEAD is fine; an unborn branch (freshly ``git init``-ed) is the empty case.
    """
    import pygit2

    try:
        if repo.is_empty or repo.head_is_unborn:
            raise RepoError("empty_repo", f"{repo.path}: no commits")
        return repo.head.peel(pygit2.Commit)
    except RepoError:
        raise
    except (pygit2.GitError, KeyError, ValueError) as e:
        raise RepoError("corrupt_repo", f"{repo.path}: cannot resolve HEAD: {e}") from e


@dataclass(frozen=True)
class TreeFile:
    """A non-directory entry of a tree: a blob, a symlink or a submodule (``kind``: blob | link | submodule)."""

    path: str
    oid: str
    mode: int
    kind: str


def iter_tree(repo, tree, prefix: str = "") -> Iterator[TreeFile | tuple[str, str, Exception]]:
    """Every file entry of ``tree``, depth first in git's (sorted) order.

    Yields ``TreeFile`` for each entry; a subtree that cannot be read (corrupt or missing object) yields a
    ``(path, oid, exception)`` tuple instead, so the caller rejects that part and keeps the rest.
    """
    import pygit2

    for entry in tree:
        path = f"{prefix}{entry.name}"
        mode = entry.filemode
        if mode == MODE_TREE:
            try:
                sub = repo[entry.id]
                if not isinstance(sub, pygit2.Tree):
                    raise ValueError(f"object {entry.id} is not a tree")
            except (pygit2.GitError, KeyError, ValueError) as e:  # corrupt or missing objects
                yield path, str(entry.id), e
                continue
            yield from iter_tree(repo, sub, path + "/")
        elif mode == MODE_COMMIT:
            yield TreeFile(path, str(entry.id), mode, "submodule")
        elif mode == MODE_LINK:
            yield TreeFile(path, str(entry.id), mode, "link")
        else:
            yield TreeFile(path, str(entry.id), mode, "blob")
