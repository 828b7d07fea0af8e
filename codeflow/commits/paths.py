"""What a changed path is: source, test, docs, or noise (vendored, generated, lock file) that no triplet keeps.

Noise paths are dropped from the patch *and* from the size budget: a lock-file refresh beside a one-line fix
must neither hide the fix nor blow the budget. The lists follow GitHub linguist's vendor / generated rules and
the lock files of the common package managers.
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache

VENDORED = re.compile(
    r"(^|/)(vendor|vendored|third_party|third-party|thirdparty|external|extern|node_modules|bower_components|"
    r"site-packages|\.venv|venv|Pods|Carthage|deps)/"
)
GENERATED = re.compile(
    r"(\.min\.(js|css)$|\.bundle\.js$|-min\.js$|\.map$|_pb2(_grpc)?\.pyi?$|\.pb\.(go|cc|h)$|\.pb\.gw\.go$|"
    r"_generated\.\w+$|\.generated\.\w+$|(^|/)(dist|build|generated|gen|__generated__)/|\.designer\.cs$|"
    r"(^|/)\.pnp\.c?js$|\.snap$)"
)
LOCK_FILES = frozenset({
    "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "npm-shrinkwrap.json", "poetry.lock", "Pipfile.lock",
    "uv.lock", "pdm.lock", "Cargo.lock", "go.sum", "Gemfile.lock", "composer.lock", "mix.lock", "pubspec.lock",
    "flake.lock", "packages.lock.json", "gradle.lockfile", "conda-lock.yml", "bun.lockb", "Podfile.lock",
})
TEST_PATH = re.compile(
    r"((^|/)(tests?|testing|spec|specs|__tests__|test_utils)/|(^|/)test_[^/]*$|_test\.\w+$|\.test\.\w+$|"
    r"\.spec\.\w+$|(^|/)conftest\.py$|Tests?\.(java|kt|cs|scala|swift)$)"
)
DOC_EXT = frozenset({".md", ".rst", ".txt", ".adoc", ".asciidoc", ".org", ".tex"})
DOC_DIR = re.compile(r"(^|/)(docs?|documentation|examples?)/")
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"


def language(path: str) -> str | None:
    """The registry language of a path (``codeflow.code.languages``), None when unknown."""
    return _language(path)


@lru_cache(maxsize=65536)
def _language(path: str) -> str | None:
    try:
        from codeflow.code.languages import language_for_path
    except ImportError:  # registry not installed: extension fallback keeps the miner usable
        return _FALLBACK_EXT.get(posixpath.splitext(path)[1].lower())
    return language_for_path(path)


_FALLBACK_EXT = {".py": "python", ".js": "javascript", ".ts": "typescript", ".java": "java", ".go": "go",
                 ".rs": "rust", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".rb": "ruby"}


@lru_cache(maxsize=65536)
def is_programming(path: str) -> bool:
    """A file in a programming language (not data / markup): what "source file changed" counts."""
    lang = _language(path)
    if lang is None:
        return False
    try:
        from codeflow.code.languages import LANGUAGES
    except ImportError:
        return True
    spec = LANGUAGES.get(lang)
    return spec is None or spec.kind == "programming"


@lru_cache(maxsize=65536)
def classify(path: str) -> str:
    """One of ``lock``, ``vendored``, ``generated`` (noise: dropped) or ``test``, ``source``, ``doc``, ``other``."""
    base = posixpath.basename(path)
    if base in LOCK_FILES or base.endswith(".lock"):
        return "lock"
    if VENDORED.search(path):
        return "vendored"
    if GENERATED.search(path):
        return "generated"
    if TEST_PATH.search(path):
        return "test"
    ext = posixpath.splitext(base)[1].lower()
    if ext in DOC_EXT or DOC_DIR.search(path):
        return "doc"
    if is_programming(path):
        return "source"
    return "other"


NOISE = frozenset({"lock", "vendored", "generated"})


def is_lfs_pointer(data: bytes) -> bool:
    return data.startswith(LFS_POINTER)
