"""Bundled sample data, and the sample repository as a real git repository (for the demo, tests and users).

Package data cannot ship a ``.git`` folder, so the sample files under ``codeflow/data/sample/code/repo`` are
committed into a fresh repository with pygit2 on first use. The commit is deterministic (fixed author, time
and message), so its sha and therefore every record id are the same on every machine.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from codeflow.repos import MODE_BLOB, MODE_EXEC, MODE_TREE, default_cache_dir


def sample_path(*parts: str) -> str:
    """Path of bundled sample data (installed with the package)."""
    return str(Path(str(resources.files("codeflow") / "data" / "sample")).joinpath(*parts))


def _tree(repo, folder: Path):
    tb = repo.TreeBuilder()
    for p in sorted(folder.iterdir()):
        if p.is_dir():
            tb.insert(p.name, _tree(repo, p), MODE_TREE)
        else:
            data = p.read_bytes()
            mode = MODE_EXEC if data.startswith(b"#!") else MODE_BLOB
            tb.insert(p.name, repo.create_blob(data), mode)
    return tb.write()


def commit_folder(folder: str, dest: str, name: str = "sample") -> str:
    """Commit every file under ``folder`` into a new bare repository at ``dest``; returns the commit sha."""
    import pygit2

    repo = pygit2.init_repository(dest, bare=True, initial_head="main")
    sig = pygit2.Signature("codeflow", "codeflow@example.invalid", 1_700_000_000, 0)
    oid = repo.create_commit("refs/heads/main", sig, sig, f"{name}: bundled sample\n", _tree(repo, Path(folder)), [])
    return str(oid)


def bundled_sample_repo(cache_dir: str | None = None) -> str:
    """Path of the bundled sample as a bare git repository, built once per content version."""
    folder = Path(sample_path("code", "repo"))
    h = hashlib.sha1()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes())
    base = cache_dir or os.path.join(os.path.dirname(default_cache_dir()), "samples")
    dest = os.path.join(base, f"sample-{h.hexdigest()[:12]}.git")
    if not os.path.isdir(dest):
        os.makedirs(base, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".sample-", dir=base)
        commit_folder(str(folder), tmp)
        try:
            os.rename(tmp, dest)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
