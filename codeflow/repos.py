"""Repository lists and opening repositories with pygit2: shared by code ingestion and commit mining.

A repo list (``list.txt``) has one repository per line::

    # comments and blank lines are ignored
    /data/repos/attrs                      a working tree (its .git is used) or a bare repository
    /data/mirrors/jsoup.git<TAB>jsoup       an optional name after a TAB (default: derived from the path/URL)
    https://github.com/pallets/click.git    a clone URL: cloned (bare) once into the cache folder

Why pygit2 and the object store: files at HEAD and history are read straight from the packfiles, with no
checkout and no subprocess per file, and a bare mirror works as well as a working tree.

Every problem with one repository (missing path, not a repository, empty, clone failure) is a ``RepoError``
with a machine-readable ``reason``, so a stage turns it into one reject line and the other repositories go on.
A unit string (``RepoEntry.unit``) carries the entry through the engines as plain text.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
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


class RepoError(Exception):
    """One repository cannot be used. ``reason`` is the reject reason, ``detail`` says why, for humans."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class RepoEntry:
    """One line of a repo list: where the repository is, and the name its records carry."""

    location: str
    name: str
    line_no: int = 0

    @property
    def is_url(self) -> bool:
        return is_url(self.location)

    @property
    def unit(self) -> str:
        """The entry as a unit string for the engines (``location<TAB>name``)."""
        return f"{self.location}\t{self.name}"

    @classmethod
    def from_unit(cls, unit: str) -> RepoEntry:
        location, _, name = unit.partition("\t")
        return cls(location, name or repo_name_for(location))


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


def clone_cached(url: str, cache_dir: str | None = None):
    """A bare clone of ``url`` in the cache, cloned on first use; concurrent workers never see a half clone.

    The clone goes to a temporary folder next to the target and is renamed into place; when another worker
    won the race, its clone is used and ours is dropped. Cached clones are not re-fetched (runs stay
    reproducible and offline); delete the folder to refresh.
    """
    import pygit2

    target = cache_path_for(url, cache_dir)
    if os.path.isdir(target):
        return _open_path(target)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".clone-", dir=os.path.dirname(target))
    try:
        pygit2.clone_repository(url, tmp, bare=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if not os.path.isdir(target):
                raise
    except (pygit2.GitError, OSError, ValueError) as e:
        raise RepoError("clone_failed", f"{url}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from e
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return _open_path(target)


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


def open_repo(entry: RepoEntry | str, cache_dir: str | None = None):
    """The ``pygit2.Repository`` of an entry (path, bare repo, or URL cloned into the cache).

    Raises ``RepoError`` with reason ``repo_not_found``, ``not_a_repo`` or ``clone_failed``.
    """
    location = entry.location if isinstance(entry, RepoEntry) else entry
    if is_url(location):
        return clone_cached(location, cache_dir)
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
            except Exception as e:  # noqa: BLE001 - corrupt or missing objects of any kind
                yield path, str(entry.id), e
                continue
            yield from iter_tree(repo, sub, path + "/")
        elif mode == MODE_COMMIT:
            yield TreeFile(path, str(entry.id), mode, "submodule")
        elif mode == MODE_LINK:
            yield TreeFile(path, str(entry.id), mode, "link")
        else:
            yield TreeFile(path, str(entry.id), mode, "blob")
