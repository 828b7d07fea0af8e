"""What a changed path is: source, test, docs, or noise (vendored, generated, lock file) that no triplet keeps.

Noise paths are dropped from the patch *and* from the size budget: a lock-file refresh beside a one-line fix
must neither hide the fix nor blow the budget. The lists follow GitHub linguist's vendor / generated rules and
the lock files of the common package managers; the lists themselves live in ``codeflow.pathrules``, shared
with code validation.
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache

from codeflow.pathrules import LFS_POINTER_MAX_BYTES, generated_reason, is_lfs_pointer, is_lock_file, vendored_dir

__all__ = ["LFS_POINTER_MAX_BYTES", "NOISE", "classify", "is_lfs_pointer", "is_programming", "language"]

TEST_PATH = re.compile(
    r"((^|/)(tests?|testing|spec|specs|__tests__|test_utils)/|(^|/)test_[^/]*$|_test\.\w+$|\.test\.\w+$|"
    r"\.spec\.\w+$|(^|/)conftest\.py$|Tests?\.(java|kt|cs|scala|swift)$)"
)
DOC_EXT = frozenset({".md", ".rst", ".txt", ".adoc", ".asciidoc", ".org", ".tex"})
DOC_DIR = re.compile(r"(^|/)(docs?|documentation|examples?)/")


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
    if is_lock_file(path):
        return "lock"
    if vendored_dir(path):
        return "vendored"
    if generated_reason(path):
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
